-- How long each step of the adoption journey may take before a user who has not made it
-- counts as having stopped there: until then the user is still in time ("pending"), not
-- failed. Activation matches never_activated (two weeks after the invitation); first value
-- gets four weeks after activation; habitual use (active in 3 of 4 consecutive weeks) gets
-- eight weeks after the step before it.
-- Whether first value is defined at all (the features input names a key action) is the
-- journey's other rule: without it the funnel leaves that step out.
-- Grain: one row.
select
    interval 14 day as activation_window,
    interval 28 day as first_value_window,
    interval 56 day as habitual_window,
    3 as habitual_active_weeks,  -- of 4 consecutive weeks (the RANGE frame of user_milestones)
    (select count(*) > 0 from core.features where is_key_action) as first_value_defined
