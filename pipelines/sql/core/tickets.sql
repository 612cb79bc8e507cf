-- Usable tickets. A ticket with a user_id belongs to that user (and the user's site);
-- one with only a site_id belongs to the site.
-- Grain: one row per ticket. Key: ticket_id.
select
    ticket_id,
    user_id,
    coalesce(user_site_id, site_id) as site_id,
    created_at,
    solved_at,
    status,
    priority,
    category,
    channel
from core.ticket_checks
where reject_reason is null
order by ticket_id
