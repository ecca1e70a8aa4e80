"""Variables, WeCom limits, attachment shapes and banned-phrase matching (D6, D10)."""

import pytest

from scrm.content import rules
from scrm.core.errors import DomainError

BAOBEN = rules.PhraseRule("保本", ("非保本", "不保本"))
WENZHUAN = rules.PhraseRule("稳赚")


def test_variables_render_customer_group_and_manager_names():
    text = "{客户名称}您好，欢迎加入{群名称}，我是{客户经理}。"
    rendered = rules.variables_render(
        text, {"客户名称": "张先生", "群名称": "福田美食群", "客户经理": "李娜"}
    )
    assert rendered == "张先生您好，欢迎加入福田美食群，我是李娜。"


def test_a_variable_value_is_inserted_literally_and_never_expanded_again():
    rendered = rules.variables_render(
        "{客户名称}您好", {"客户名称": "{客户经理}{0.__class__}\x07", "客户经理": "李娜"}
    )
    assert rendered == "{客户经理}{0.__class__}您好"


def test_rendering_without_a_value_for_a_used_variable_is_refused():
    with pytest.raises(DomainError) as exc:
        rules.variables_render("{群名称}本周福利", {"客户名称": "张先生"})
    assert exc.value.code == "variable_missing"


def test_unknown_variables_are_rejected_at_submission_with_their_names():
    with pytest.raises(rules.ContentCheckError) as exc:
        rules.submission_check(text="{客户姓名}您好", attachments=[], rules=[])
    assert exc.value.code == "variable_unknown"
    assert "{客户姓名}" in exc.value.message


def test_banned_phrase_is_found_with_its_character_position():
    hits = rules.phrases_find("本理财产品保本保息", [BAOBEN, WENZHUAN])
    assert [(h.phrase, h.start, h.end) for h in hits] == [("保本", 5, 7)]


def test_banned_phrase_split_by_spaces_or_symbols_is_still_found_and_located():
    text = "包你稳 * 赚，还能 保 本"
    hits = rules.phrases_find(text, [BAOBEN, WENZHUAN])
    assert [(h.phrase, h.matched) for h in hits] == [("稳赚", "稳 * 赚"), ("保本", "保 本")]
    assert text[hits[0].start : hits[0].end] == "稳 * 赚"


def test_the_regulators_own_wording_non_principal_protected_is_allowed():
    assert rules.phrases_find("本产品为非保本浮动收益型，不保本。", [BAOBEN]) == []
    hits = rules.phrases_find("非保本产品也能保本", [BAOBEN])
    assert [(h.start, h.end) for h in hits] == [(7, 9)]


def test_punctuation_between_two_words_is_not_read_as_a_banned_phrase():
    assert rules.phrases_find("确保，本周三前到店", [BAOBEN]) == []


def test_banned_phrases_in_link_titles_are_checked_too():
    attachments = [
        {"msgtype": "link", "link": {"title": "稳赚理财", "url": "https://bank.example/p"}}
    ]
    with pytest.raises(rules.ContentCheckError) as exc:
        rules.submission_check(text="看看", attachments=attachments, rules=[WENZHUAN])
    assert exc.value.code == "banned_phrase"
    assert exc.value.hits[0].field == "attachments[0].title"
    assert "第 1 个附件标题" in exc.value.message


def test_payload_has_wecoms_exact_attachment_shapes():
    attachments = [
        {"msgtype": "image", "image": {"media_id": "MEDIA_1"}},
        {"msgtype": "image", "image": {"pic_url": "https://bank.example/a.png"}},
        {
            "msgtype": "link",
            "link": {
                "title": "{群名称}专享",
                "picurl": "https://bank.example/cover.png",
                "desc": "周三五折",
                "url": "https://bank.example/food",
                "extra": "dropped",
            },
        },
        {
            "msgtype": "miniprogram",
            "miniprogram": {
                "title": "领券",
                "pic_media_id": "MEDIA_2",
                "appid": "wx8bd80126147dfAAA",
                "page": "/path/index.html",
            },
        },
    ]
    payload = rules.message_payload_build(
        text="{客户名称}您好",
        attachments=attachments,
        variables={"客户名称": "张先生", "群名称": "福田群"},
    )
    assert payload == {
        "text": {"content": "张先生您好"},
        "attachments": [
            {"msgtype": "image", "image": {"media_id": "MEDIA_1"}},
            {"msgtype": "image", "image": {"pic_url": "https://bank.example/a.png"}},
            {
                "msgtype": "link",
                "link": {
                    "title": "福田群专享",
                    "picurl": "https://bank.example/cover.png",
                    "desc": "周三五折",
                    "url": "https://bank.example/food",
                },
            },
            {
                "msgtype": "miniprogram",
                "miniprogram": {
                    "title": "领券",
                    "pic_media_id": "MEDIA_2",
                    "appid": "wx8bd80126147dfAAA",
                    "page": "/path/index.html",
                },
            },
        ],
    }


def test_payload_with_more_than_nine_attachments_is_refused():
    ten = [{"msgtype": "image", "image": {"media_id": f"M{i}"}} for i in range(10)]
    with pytest.raises(DomainError) as exc:
        rules.message_payload_build(text="hi", attachments=ten)
    assert exc.value.code == "too_many_attachments"
    nine = ten[:9]
    assert len(rules.message_payload_build(text="hi", attachments=nine)["attachments"]) == 9


def test_text_over_4000_utf8_bytes_is_refused_even_if_under_4000_characters():
    chinese = "福" * 1334  # 4002 bytes in UTF-8, 1334 characters
    with pytest.raises(DomainError) as exc:
        rules.message_payload_build(text=chinese, attachments=[])
    assert exc.value.code == "text_too_long"
    assert rules.message_payload_build(text="福" * 1333, attachments=[])["text"]


def test_a_long_name_that_pushes_the_rendered_text_over_the_limit_is_refused():
    text = "{客户名称}" + "福" * 1325  # 3989 bytes as written
    with pytest.raises(DomainError) as exc:
        rules.message_payload_build(text=text, attachments=[], variables={"客户名称": "张" * 10})
    assert exc.value.code == "text_too_long"


@pytest.mark.parametrize(
    "item",
    [
        {"msgtype": "voice", "voice": {"media_id": "x"}},
        {"msgtype": "link", "link": {"title": "no url"}},
        {"msgtype": "link", "link": {"title": "t", "url": "javascript:alert(1)"}},
        {"msgtype": "image", "image": {}},
        {"msgtype": "image", "image": {"media_id": "a", "pic_url": "https://x.example/a.png"}},
        {"msgtype": "miniprogram", "miniprogram": {"title": "t", "appid": "wx1"}},
    ],
)
def test_malformed_attachments_are_refused(item):
    with pytest.raises(DomainError) as exc:
        rules.attachments_normalize([item])
    assert exc.value.code == "attachment_invalid"
