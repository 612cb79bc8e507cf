-- The event_key of every usable event row read so far, repeats included: what an
-- incremental build checks a new file's rows against, so that an event delivered again
-- counts once (8 bytes per row). Carried from the build this one extends, plus the rows
-- it read itself.
-- Grain: one row per usable event row. No key (a repeated event is there once per delivery).
select event_key from landing.counted_event_keys
union all
select event_key from core.keyed_events
