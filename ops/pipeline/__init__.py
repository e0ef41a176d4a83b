"""The operations pipeline: steps with run and undo, a journal, a per-stack lock, two targets."""
