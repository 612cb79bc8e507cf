-- Where adoption stops, per site, role and invitation month: how many users reached each
-- step, the conversion between steps counting only users past the step's window (a user
-- invited yesterday has not failed to activate), whether the cohort is complete for each
-- step, the median days each step took, and the tickets users filed in each phase by category.
-- Grain: one row per site, role and invitation month. Key: site_id, role, invite_month.
with build_window as (
    select as_of, window_end from core.build_window
),

journey as (
    select
        *,
        date_trunc('month', invited_at)::date as invite_month
    from main.user_journey
),

windows as (
    select first_value_defined from core.journey_windows
),

tickets as (
    select
        journey.site_id,
        journey.role,
        journey.invite_month,
        case
            when journey.activated_at is null or tickets.created_at < journey.activated_at then 'invited'
            when journey.habitual_at is not null and tickets.created_at >= journey.habitual_at then 'habitual'
            when journey.first_value_at is not null and tickets.created_at >= journey.first_value_at then 'first_value'
            else 'activated'
        end as phase,
        coalesce(tickets.category, 'uncategorised') as category
    from core.tickets as tickets
    inner join journey on tickets.user_id = journey.user_id
    where tickets.created_at < (select window_end from build_window)
),

ticket_counts as (
    select site_id, role, invite_month, phase, category, count(*) as tickets
    from tickets
    group by all
),

counts as (
    select
        site_id,
        role,
        invite_month,
        count(*) as invited,
        count(activated_at) as activated,
        if((select first_value_defined from windows), count(first_value_at), null) as first_value,
        count(habitual_at) as habitual,
        count(*) filter (where phase = 'still_active') as still_active,
        count(*) filter (where phase = 'invited' and is_pending) as activation_pending,
        if(
            (select first_value_defined from windows),
            count(*) filter (where phase = 'activated' and is_pending),
            null
        ) as first_value_pending,
        count(*) filter (
            where is_pending and phase = if((select first_value_defined from windows), 'first_value', 'activated')
        ) as habitual_pending,
        median(date_diff('second', invited_at, activated_at) / 86400) as median_days_to_activation,
        median(date_diff('second', activated_at, first_value_at) / 86400) as median_days_to_first_value,
        median(date_diff('second', coalesce(first_value_at, activated_at), habitual_at) / 86400)
            as median_days_to_habitual
    from journey
    group by site_id, role, invite_month
),

final as (
    select
        counts.site_id,
        counts.role,
        counts.invite_month,
        (select as_of from build_window) as as_of,
        counts.invited,
        counts.activated,
        counts.first_value,
        counts.habitual,
        counts.still_active,
        counts.activation_pending,
        counts.first_value_pending,
        counts.habitual_pending,
        counts.activated / nullif(counts.invited - counts.activation_pending, 0) as activation_rate,
        counts.first_value / nullif(counts.activated - counts.first_value_pending, 0) as first_value_rate,
        counts.habitual / nullif(
            coalesce(counts.first_value, counts.activated) - counts.habitual_pending, 0
        ) as habitual_rate,
        counts.still_active / nullif(counts.habitual, 0) as still_active_rate,
        counts.activation_pending = 0 as activation_complete,
        if(
            (select first_value_defined from windows),
            counts.activation_pending + counts.first_value_pending = 0,
            null
        ) as first_value_complete,
        counts.activation_pending + coalesce(counts.first_value_pending, 0) + counts.habitual_pending = 0
            as habitual_complete,
        counts.median_days_to_activation,
        counts.median_days_to_first_value,
        counts.median_days_to_habitual,
        coalesce(
            list(
                {
                    'phase': ticket_counts.phase,
                    'category': ticket_counts.category,
                    'tickets': ticket_counts.tickets,
                    'per_user': ticket_counts.tickets / counts.invited
                }
                order by
                    list_position(['invited', 'activated', 'first_value', 'habitual'], ticket_counts.phase),
                    ticket_counts.category
            ) filter (where ticket_counts.phase is not null),
            []
        ) as tickets_per_user_by_phase
    from counts
    left join ticket_counts
        on counts.site_id = ticket_counts.site_id
        and counts.role is not distinct from ticket_counts.role
        and counts.invite_month = ticket_counts.invite_month
    group by all
)

select * from final
order by site_id, role nulls last, invite_month
