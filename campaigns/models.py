"""Campaigns: benefits offered to customers in groups (D7). The top of the app order:
campaigns may read contacts, groups and tagging; nothing below imports it."""
