"""arq workers: deliver domain events, run the SLA timers and the periodic sweeps."""
