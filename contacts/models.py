"""Staff, customers and the follow relations between them (D1, D2, D14).

A customer (外部联系人) can follow several staff members; each pair is one
``FollowRelation`` row carrying WeCom's per-relation fields. The first channel
a customer came in through is kept on the customer for good (D2).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _
from encrypted_model_fields.fields import EncryptedCharField, EncryptedTextField


class Branch(models.Model):
    """A bank branch (WeCom department). Branch managers see their branch's customers."""

    code = models.CharField(_("编码"), max_length=64, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    parent = models.ForeignKey(
        "self", verbose_name=_("上级"), null=True, blank=True, on_delete=models.SET_NULL
    )
    wecom_department_id = models.BigIntegerField(_("企业微信部门ID"), null=True, blank=True)

    class Meta:
        verbose_name = _("网点")
        verbose_name_plural = _("网点")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Staff(models.Model):
    """A bank employee in the WeCom corp (成员), optionally linked to a login."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("在职")
        LEFT = "left", _("已离职")
        DISABLED = "disabled", _("已禁用")

    userid = models.CharField(_("成员账号"), max_length=64, unique=True)
    name = models.CharField(_("姓名"), max_length=64)
    branch = models.ForeignKey(
        Branch,
        verbose_name=_("网点"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="staff",
    )
    position = models.CharField(_("职务"), max_length=64, blank=True)
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.ACTIVE, db_index=True
    )
    is_follow_user = models.BooleanField(_("有客户联系权限"), default=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("登录账号"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="staff",
    )
    left_at = models.DateTimeField(_("离职时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("员工")
        verbose_name_plural = _("员工")
        ordering = ["userid"]

    def __str__(self) -> str:
        return f"{self.name} ({self.userid})"


class Customer(models.Model):
    """A WeChat user who added at least one staff member (外部联系人)."""

    class Type(models.IntegerChoices):
        WECHAT = 1, _("微信用户")
        WECOM = 2, _("企业微信用户")

    class Gender(models.IntegerChoices):
        UNKNOWN = 0, _("未知")
        MALE = 1, _("男")
        FEMALE = 2, _("女")

    class Status(models.TextChoices):
        ACTIVE = "active", _("正常")
        LOST = "lost", _("已流失")
        ERASED = "erased", _("已删除个人信息")

    class Ring(models.TextChoices):
        """D1: how bound the customer is to the bank."""

        INNER = "inner", _("核心圈（本行借记卡）")
        MIDDLE = "middle", _("中间圈（信用卡/他行卡）")
        OUTER = "outer", _("外圈（未绑卡）")
        UNKNOWN = "unknown", _("未知")

    class VerifyMethod(models.TextChoices):
        """D4: how the customer was matched to a bank record."""

        REMARK_MOBILE = "remark_mobile", _("备注手机号")
        MANAGER_BINDING = "manager_binding", _("客户经理绑定")
        H5_PHONE = "h5_phone", _("客户自助确认手机号")

    external_userid = models.CharField(_("外部联系人ID"), max_length=64, unique=True)
    name = models.CharField(_("昵称"), max_length=128, blank=True)
    avatar = models.URLField(_("头像"), max_length=500, blank=True)
    type = models.PositiveSmallIntegerField(_("类型"), choices=Type.choices, default=Type.WECHAT)
    gender = models.PositiveSmallIntegerField(
        _("性别"), choices=Gender.choices, default=Gender.UNKNOWN
    )
    unionid = models.CharField(_("UnionID"), max_length=64, blank=True, db_index=True)
    corp_name = models.CharField(_("企业简称"), max_length=128, blank=True)
    corp_full_name = models.CharField(_("企业全称"), max_length=256, blank=True)
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.ACTIVE, db_index=True
    )
    ring = models.CharField(
        _("客户圈层"), max_length=16, choices=Ring.choices, default=Ring.UNKNOWN, db_index=True
    )
    # D2: the first touch is kept for good; later touches go to the timeline.
    first_channel = models.ForeignKey(
        "contacts.ChannelCode",
        verbose_name=_("首次来源渠道"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="first_touch_customers",
    )
    first_state = models.CharField(_("首次来源 state"), max_length=64, blank=True)
    first_added_at = models.DateTimeField(_("首次添加时间"), null=True, blank=True)
    # D4: matched to a bank record (the gate that groups and campaigns use).
    verified_at = models.DateTimeField(_("认证时间"), null=True, blank=True, db_index=True)
    verify_method = models.CharField(
        _("认证方式"), max_length=24, choices=VerifyMethod.choices, blank=True
    )
    bank_record = models.ForeignKey(
        "contacts.BankRecord",
        verbose_name=_("行内客户"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="customers",
    )
    marketing_opt_out = models.BooleanField(_("拒收营销消息"), default=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    wecom_synced_at = models.DateTimeField(_("同步时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("客户")
        verbose_name_plural = _("客户")
        ordering = ["-created_at"]
        permissions = [
            ("reveal_pii", _("查看客户手机号、证件号明文")),
            ("export_customers", _("导出客户名单")),
            ("erase_customer", _("删除客户个人信息")),
        ]

    def __str__(self) -> str:
        return self.name or self.external_userid

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None


class FollowRelation(models.Model):
    """One customer ↔ one staff member, with WeCom's per-relation fields."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("正常")
        HALF = "half", _("待确认")
        REMOVED_BY_STAFF = "removed_by_staff", _("员工删除客户")
        REMOVED_BY_CUSTOMER = "removed_by_customer", _("客户删除员工")
        TRANSFERRED = "transferred", _("已转接")

    customer = models.ForeignKey(
        Customer, verbose_name=_("客户"), on_delete=models.CASCADE, related_name="follows"
    )
    staff = models.ForeignKey(
        Staff, verbose_name=_("员工"), on_delete=models.PROTECT, related_name="follows"
    )
    status = models.CharField(
        _("状态"), max_length=24, choices=Status.choices, default=Status.ACTIVE, db_index=True
    )
    remark = models.CharField(_("备注"), max_length=128, blank=True)
    description = models.CharField(_("描述"), max_length=256, blank=True)
    remark_corp_name = models.CharField(_("备注企业名称"), max_length=128, blank=True)
    add_way = models.IntegerField(_("添加方式"), default=0)
    state = models.CharField(_("渠道 state"), max_length=64, blank=True, db_index=True)
    oper_userid = models.CharField(_("发起添加的账号"), max_length=64, blank=True)
    added_at = models.DateTimeField(_("添加时间"), null=True, blank=True, db_index=True)
    removed_at = models.DateTimeField(_("删除时间"), null=True, blank=True)
    # WeCom's remark_mobiles: encrypted (D14) plus keyed hashes for matching (D4).
    remark_mobiles = EncryptedTextField(_("备注手机号"), blank=True, default="")
    remark_mobile_hashes = ArrayField(
        models.CharField(max_length=64), verbose_name=_("备注手机号摘要"), default=list, blank=True
    )
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("跟进关系")
        verbose_name_plural = _("跟进关系")
        constraints = [
            models.UniqueConstraint(fields=["customer", "staff"], name="uniq_follow_customer_staff")
        ]
        indexes = [models.Index(fields=["staff", "status"])]

    def __str__(self) -> str:
        return f"{self.staff_id} → {self.customer_id}"


class ChannelCode(models.Model):
    """A channel (渠道活码, D2): a WeCom contact way with a unique ``state``."""

    class ChannelType(models.TextChoices):
        OFFICIAL_ACCOUNT_MENU = "oa_menu", _("公众号菜单")
        TRANSACTION_ALERT = "txn_alert", _("动账通知")
        MOBILE_BANK = "mobile_bank", _("手机银行")
        MOMENTS = "moments", _("朋友圈")
        OUTBOUND_CALL = "outbound_call", _("外呼")
        OFFLINE_EVENT = "offline_event", _("线下活动")
        REFERRAL = "referral", _("老带新")
        OTHER = "other", _("其他")

    name = models.CharField(_("名称"), max_length=64)
    channel_type = models.CharField(
        _("渠道类型"), max_length=24, choices=ChannelType.choices, default=ChannelType.OTHER
    )
    state = models.CharField(_("state"), max_length=30, unique=True)
    staff = models.ManyToManyField(Staff, verbose_name=_("接待员工"), related_name="channel_codes")
    config_id = models.CharField(_("联系我 config_id"), max_length=64, blank=True, db_index=True)
    qr_code = models.URLField(_("二维码"), max_length=500, blank=True)
    skip_verify = models.BooleanField(_("免验证添加"), default=True)
    welcome_text = models.TextField(_("欢迎语"), blank=True)
    welcome_content = models.ForeignKey(
        "content.Content",
        verbose_name=_("欢迎语素材"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("已审核通过的内容；其附件（链接、图片、小程序）随欢迎语发送"),
    )
    tags = models.ManyToManyField(
        "tagging.Tag", verbose_name=_("自动打标签"), blank=True, related_name="channel_codes"
    )
    invite_pool = models.ForeignKey(
        "groups.GroupPool",
        verbose_name=_("邀请入群"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("欢迎语中附上本地福利群入群链接"),
    )
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("渠道活码")
        verbose_name_plural = _("渠道活码")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class TimelineEntry(models.Model):
    """Everything that happened to a customer, in order (added, tags, groups, …)."""

    customer = models.ForeignKey(
        Customer, verbose_name=_("客户"), on_delete=models.CASCADE, related_name="timeline"
    )
    at = models.DateTimeField(_("时间"))
    kind = models.CharField(_("类型"), max_length=48)
    staff = models.ForeignKey(
        Staff, verbose_name=_("员工"), null=True, blank=True, on_delete=models.SET_NULL
    )
    summary = models.CharField(_("摘要"), max_length=255, blank=True)
    data = models.JSONField(_("数据"), default=dict, blank=True)
    # Guards against writing the same event twice (WeCom retries, replays).
    dedupe_key = models.CharField(max_length=191, null=True, blank=True, unique=True)

    class Meta:
        verbose_name = _("客户动态")
        verbose_name_plural = _("客户动态")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["customer", "-at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind}"


class CustomerTransfer(models.Model):
    """Handing a customer from one staff member to another (on leave or reassignment).

    WeCom lets each customer be transferred at most twice in 90 days (40128)
    and the customer may refuse; the result is tracked here.
    """

    class Status(models.TextChoices):
        REQUESTED = "requested", _("已提交")
        WAITING = "waiting", _("等待接替")
        SUCCEEDED = "succeeded", _("接替完成")
        REFUSED = "refused", _("客户拒绝")
        LIMIT = "limit", _("接替客户数超限")
        FAILED = "failed", _("失败")

    customer = models.ForeignKey(
        Customer, verbose_name=_("客户"), on_delete=models.CASCADE, related_name="transfers"
    )
    from_staff = models.ForeignKey(
        Staff, verbose_name=_("原跟进人"), on_delete=models.PROTECT, related_name="+"
    )
    to_staff = models.ForeignKey(
        Staff, verbose_name=_("接替人"), on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.REQUESTED, db_index=True
    )
    errcode = models.IntegerField(_("错误码"), null=True, blank=True)
    detail = models.CharField(_("说明"), max_length=255, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("发起人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    requested_at = models.DateTimeField(_("提交时间"), auto_now_add=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("客户继承")
        verbose_name_plural = _("客户继承")
        ordering = ["-requested_at"]
        indexes = [models.Index(fields=["customer", "requested_at"])]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.from_staff_id} → {self.to_staff_id}"


class BankRecord(models.Model):
    """One customer in the bank's core system (D1, D4), loaded from the bank's file.

    Phones and ID numbers are encrypted at rest; ``phone_hash`` (HMAC-SHA256 with
    a separate key) is what matching joins on, so no one decrypts to match.
    """

    class AumBracket(models.TextChoices):
        NONE = "", _("未知")
        BELOW_50K = "lt50k", _("5万以下")
        K50_TO_500K = "50k_500k", _("5万-50万")
        K500_TO_6M = "500k_6m", _("50万-600万")
        ABOVE_6M = "gte6m", _("600万以上")

    customer_no = models.CharField(_("客户号"), max_length=32, unique=True)
    name = models.CharField(_("姓名"), max_length=64, blank=True)
    phone = EncryptedCharField(_("手机号"), max_length=20, blank=True)
    phone_hash = models.CharField(_("手机号摘要"), max_length=64, blank=True, db_index=True)
    id_number = EncryptedCharField(_("证件号"), max_length=32, blank=True)
    birthday = models.DateField(_("生日"), null=True, blank=True)
    branch_code = models.CharField(_("网点编码"), max_length=64, blank=True)
    branch = models.ForeignKey(
        Branch,
        verbose_name=_("网点"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="bank_records",
    )
    has_debit_card = models.BooleanField(_("绑定本行借记卡"), default=False)
    has_credit_card = models.BooleanField(_("绑定本行信用卡"), default=False)
    has_other_bank_card = models.BooleanField(_("绑定他行卡"), default=False)
    ring = models.CharField(
        _("客户圈层"), max_length=16, choices=Customer.Ring.choices, default=Customer.Ring.OUTER
    )
    aum_bracket = models.CharField(
        _("AUM 区间"), max_length=16, choices=AumBracket.choices, blank=True, default=""
    )
    product_name = models.CharField(_("理财产品"), max_length=128, blank=True)
    # D11: "wealth product maturing in N days" reads this.
    product_maturity = models.DateField(_("产品到期日"), null=True, blank=True, db_index=True)
    imported_at = models.DateTimeField(_("导入时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("行内客户记录")
        verbose_name_plural = _("行内客户记录")
        ordering = ["customer_no"]

    def __str__(self) -> str:
        return self.customer_no


class BankImportJob(models.Model):
    """One load of the bank's customer file (D1, D4), run in the background.

    The request stores the file under ``VAR_DIR/bank-imports`` and creates the job;
    a worker claims it (queued → running), reports progress while it imports, and
    finishes it (done or failed). The import upserts by customer number, so a job
    whose worker died can simply run again from the start.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("排队中")
        RUNNING = "running", _("导入中")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("上传人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    file_name = models.CharField(_("文件名"), max_length=255)
    # Relative to VAR_DIR/bank-imports; kept until the job is done, so it can be retried.
    stored_file = models.CharField(_("存储文件"), max_length=255)
    source = models.CharField(_("来源"), max_length=16, default="admin")
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    total = models.PositiveIntegerField(_("总行数"), null=True, blank=True)
    processed = models.PositiveIntegerField(_("已处理行数"), default=0)
    created_count = models.PositiveIntegerField(_("新增"), default=0)
    updated_count = models.PositiveIntegerField(_("更新"), default=0)
    error_count = models.PositiveIntegerField(_("错误行数"), default=0)
    matched_count = models.PositiveIntegerField(_("认证客户数"), default=0)
    # The first rows in error (line, customer_no, messages); all of them in ``error_report``.
    errors = models.JSONField(_("错误行"), default=list, blank=True)
    error_report = models.CharField(_("错误报告文件"), max_length=255, blank=True)
    error_message = models.TextField(_("失败原因"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("执行次数"), default=0)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    enqueued_at = models.DateTimeField(_("入队时间"), null=True, blank=True)
    started_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("心跳时间"), null=True, blank=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("行内客户导入任务")
        verbose_name_plural = _("行内客户导入任务")
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.file_name}"

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def percent(self) -> int | None:
        if self.status == self.Status.DONE:
            return 100
        if not self.total:
            return None
        return min(99, self.processed * 100 // self.total)
