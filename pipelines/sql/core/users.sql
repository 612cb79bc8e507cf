-- The users the build knows, with their site.
-- Grain: one row per user. Key: user_id.
select
    user_id,
    site_id,
    role,
    invited_at,
    deactivated_at
from core.user_checks
where reject_reason is null
order by user_id
