-- What each event name means: the feature it belongs to (null: not a feature, such as a
-- login) and whether it is a key action, what a user does that delivers value. Empty when
-- the input has no features item: then no event is a feature and first value is not defined.
-- Grain: one row per event name. Key: event_name.
select
    event_name,
    feature,
    coalesce(is_key_action, false) as is_key_action
from core.feature_checks
where reject_reason is null
order by event_name
