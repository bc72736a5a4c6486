"""Channels (web widget, WeChat, Rasa REST, hotline): where messages enter. Filled by the server issue."""
