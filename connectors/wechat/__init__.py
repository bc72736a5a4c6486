"""The WeChat channel (official accounts and mini-programs): see channel.py.

Kept import-light: bot/settings.py imports `core.channel_settings` to validate the section.
"""
