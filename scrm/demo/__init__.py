"""The demo: what ``make run`` loads, made through the WeCom sandbox as WeCom would.

Above every app in the order (it uses them all); nothing imports it.
"""
