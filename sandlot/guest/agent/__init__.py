"""The guest agent: one protocol (run_code, exec, ping) served over any transport."""
