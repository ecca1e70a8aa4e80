"""Referral (老带新) and group fission: invite links, the invite chain, tiered rewards, key spreaders."""
