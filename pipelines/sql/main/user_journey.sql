-- Each user's adoption journey up to as_of: when they were invited, first used the product,
-- first did a key action and became habitual, the furthest phase they reached, whether they
-- are still in time for the next step, and the tickets they filed before the first steps.
-- Grain: one row per user invited by as_of. Key: user_id.
with build_window as (
    select as_of, window_end from core.build_window
),

windows as (
    select * from core.journey_windows
),

milestones as (
    select * from core.user_milestones
),

status as (
    select user_id, status from main.user_status
),

tickets as (
    select user_id, created_at
    from core.tickets
    where user_id is not null and created_at < (select window_end from build_window)
),

ticket_counts as (
    select
        milestones.user_id,
        count(tickets.created_at) filter (
            where milestones.activated_at is null or tickets.created_at < milestones.activated_at
        ) as tickets_before_activation,
        count(tickets.created_at) filter (
            where milestones.first_value_at is null or tickets.created_at < milestones.first_value_at
        ) as tickets_before_first_value
    from milestones
    inner join tickets on milestones.user_id = tickets.user_id
    group by milestones.user_id
),

phased as (
    select
        milestones.*,
        status.status,
        case
            when milestones.habitual_at is not null and status.status in ('active', 'new') then 'still_active'
            when milestones.habitual_at is not null then 'habitual'
            when milestones.first_value_at is not null then 'first_value'
            when milestones.activated_at is not null then 'activated'
            else 'invited'
        end as phase
    from milestones
    left join status on milestones.user_id = status.user_id
),

final as (
    select
        phased.user_id,
        phased.site_id,
        phased.role,
        (select as_of from build_window) as as_of,
        phased.invited_at,
        phased.activated_at,
        phased.first_value_at,
        phased.habitual_at,
        phased.phase,
        phased.status,
        case phased.phase
            when 'invited' then phased.invited_at + windows.activation_window
            when 'activated' then phased.activated_at
                + if(windows.first_value_defined, windows.first_value_window, windows.habitual_window)
            when 'first_value' then phased.first_value_at + windows.habitual_window
        end as next_step_due_by,
        coalesce(ticket_counts.tickets_before_activation, 0) as tickets_before_activation,
        if(
            windows.first_value_defined, coalesce(ticket_counts.tickets_before_first_value, 0), null
        ) as tickets_before_first_value
    from phased
    cross join windows
    left join ticket_counts on phased.user_id = ticket_counts.user_id
)

select
    * exclude (next_step_due_by),
    next_step_due_by,
    coalesce(next_step_due_by >= (select window_end from build_window), false) as is_pending
from final
order by user_id
