-- materialized: macro(window_end)
-- The tickets users had filed by `window_end` (the midnight after an as_of week), which
-- decide between a ticketed decline and a silent one.
-- Grain: one row per ticket with a user created before window_end.
select user_id, created_at, category
from core.tickets
where user_id is not null and created_at < window_end
