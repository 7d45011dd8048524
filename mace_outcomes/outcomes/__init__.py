"""Non-time-to-event outcomes: stent expansion, procedural outcomes (see STYLE.md)."""
