"""Quiet users: who stopped or faded without a ticket, from each user's own weekly history.

Two tracks (the return model for stops, the rate test for fades), the reason a CSM reads,
and the build's check of its own past flags (`flag_backtest`)."""
