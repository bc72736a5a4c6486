"""The ticket store's side of the external 12345 platform, one job per module:
models (tables), recorder (the flush hook that writes outbox rows with each ticket change,
installed explicitly by `TicketDesk.open`), push (the outbox, through core/outbox.py) and
callbacks (the platform's status reports). HTTP lives in connectors/hotline_platform.py and
the glue in jobs/platform.py.
"""
