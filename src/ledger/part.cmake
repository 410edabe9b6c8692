# ledger: sources of this part, added to yantra_core.
target_sources(yantra_core PRIVATE)
