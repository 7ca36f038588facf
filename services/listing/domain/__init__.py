"""The listing service's domain: achievements, demands, their rules. Pure: no I/O."""
