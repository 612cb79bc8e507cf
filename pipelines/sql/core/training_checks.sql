-- materialized: view
-- Every typed training row with the reason it cannot be used, if any.
-- Grain: one row per input row. Key: source_file, row_number.
with trainings as (
    select * from staging.trainings
),

joined as (
    select
        trainings.*,
        sites.site_id is not null as has_known_site,
        users.user_id is not null as has_known_user,
        users.site_id as user_site_id
    from trainings
    left join core.sites as sites on trainings.site_id = sites.site_id
    left join core.users as users on trainings.user_id = users.user_id
),

final as (
    select
        * exclude (has_known_site, has_known_user, user_site_id),
        case
            when not has_known_site
                then 'site_id ' || site_id || ' is not in the sites input'
            when user_id is not null and not has_known_user
                then 'user_id ' || user_id || ' is not in the users input'
            when user_id is not null and user_site_id <> site_id
                then 'user ' || user_id || ' belongs to site ' || user_site_id || ', not ' || site_id
        end as reject_reason
    from joined
)

select * from final
