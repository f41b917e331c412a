"""``make screenshots``: the gateway's pages (``dashboard``) and every email variant
(``email_preview`` renders them, ``emails`` photographs them) into ``docs/screenshots/``."""
