"""The WeChat channel (official accounts and mini-programs): see channel.py.

Kept import-light; the section's model lives in core/channel_settings.py (validated at load).
"""
