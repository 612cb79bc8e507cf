-- materialized: view
-- Every typed ticket row with the reason it cannot be used, if any.
-- Grain: one row per input row. Key: source_file, row_number.
with tickets as (
    select * from staging.tickets
),

ranked as (
    select
        tickets.*,
        users.user_id is not null as has_known_user,
        users.site_id as user_site_id,
        sites.site_id is not null as has_known_site,
        first_value(tickets.source_file || ' row ' || tickets.row_number) over by_ticket as first_defined_at,
        row_number() over by_ticket as n_defined
    from tickets
    left join core.users as users on tickets.user_id = users.user_id
    left join core.sites as sites on tickets.site_id = sites.site_id
    window by_ticket as (partition by tickets.ticket_id order by tickets.source_file, tickets.row_number)
),

final as (
    select
        * exclude (has_known_user, has_known_site, first_defined_at, n_defined),
        case
            when n_defined > 1
                then 'duplicate ticket_id ' || ticket_id || ' (first defined at ' || first_defined_at || ')'
            when user_id is null and site_id is null
                then 'ticket has neither user_id nor site_id'
            when user_id is not null and not has_known_user
                then 'user_id ' || user_id || ' is not in the users input'
            when user_id is null and not has_known_site
                then 'site_id ' || site_id || ' is not in the sites input'
        end as reject_reason
    from ranked
)

select * from final
