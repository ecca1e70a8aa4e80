"""The sandbox's group welcome templates (``group_welcome_template/add|edit|get|del``)."""

from __future__ import annotations

from .base import ApiError, Handler, SandboxBase, _id


class WelcomeTemplatesMixin(SandboxBase):
    """Welcome messages for new group members, stored by template id."""

    def _welcome_template_fields(self, b: dict) -> dict:
        content = (b.get("text") or {}).get("content", "")
        media = {k: b[k] for k in ("image", "link", "miniprogram", "file", "video") if b.get(k)}
        if not content and not media:
            raise ApiError(40058, "text or media required")
        if len(content.encode()) > 4000:
            raise ApiError(40058, "text.content at most 4000 bytes")
        return {"text": {"content": content}, **media}

    def group_welcome_template_add(self, q: dict, b: dict) -> dict:
        template_id = _id("gwt", 24)
        self.state.group_welcome_templates[template_id] = {
            "template_id": template_id,
            **self._welcome_template_fields(b),
            "notify": int(b.get("notify", 1)),
        }
        return {"template_id": template_id}

    def _welcome_template(self, template_id: str) -> dict:
        template = self.state.group_welcome_templates.get(template_id or "")
        if template is None:
            raise ApiError(41065, "invalid template_id")
        return template

    def group_welcome_template_edit(self, q: dict, b: dict) -> dict:
        template = self._welcome_template(b.get("template_id"))
        for key in ("image", "link", "miniprogram", "file", "video"):
            template.pop(key, None)
        template.update(self._welcome_template_fields(b))
        return {}

    def group_welcome_template_get(self, q: dict, b: dict) -> dict:
        template = self._welcome_template(b.get("template_id"))
        return {k: v for k, v in template.items() if k not in ("template_id", "notify")}

    def group_welcome_template_del(self, q: dict, b: dict) -> dict:
        self._welcome_template(b.get("template_id"))
        del self.state.group_welcome_templates[b["template_id"]]
        return {}


API: dict[str, Handler] = {
    "externalcontact/group_welcome_template/add": WelcomeTemplatesMixin.group_welcome_template_add,
    "externalcontact/group_welcome_template/edit": WelcomeTemplatesMixin.group_welcome_template_edit,
    "externalcontact/group_welcome_template/get": WelcomeTemplatesMixin.group_welcome_template_get,
    "externalcontact/group_welcome_template/del": WelcomeTemplatesMixin.group_welcome_template_del,
}
