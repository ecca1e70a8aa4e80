import pytest

from campaigns import services as content_services


@pytest.fixture
def approved(cast):
    """Content written by ops and approved by compliance (four eyes)."""
    content = content_services.content_create(
        actor=cast.ops, title="周三美食五折", text="周三美食五折！{客户经理}为您服务。"
    )
    content_services.content_submit(actor=cast.ops, content_id=content.pk)
    content_services.content_approve(actor=cast.compliance, content_id=content.pk)
    content.refresh_from_db()
    return content


@pytest.fixture
def draft(cast):
    return content_services.content_create(actor=cast.ops, title="草稿", text="还没审核")
