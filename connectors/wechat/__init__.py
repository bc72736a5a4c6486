"""The WeChat channel (official accounts and mini-programs): see channel.py.

Kept import-light: bot/settings.py imports `connectors.wechat.config` to validate the section.
"""
