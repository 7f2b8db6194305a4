"""The research export's Django-free core: table definitions, pseudonyms, writers, SDTM domains, the manifest."""
