use super::*;
use crate::config;

fn table_and_policy(yaml: &str) -> (ModelTable, RoutingPolicy) {
    let c = config::load_str(yaml)
        .unwrap_or_else(|e| panic!("{e}"))
        .config;
    let states = StateRegistry::default();
    let t = crate::compile::model_table(&c.model_list, c.router.model_group_alias.clone(), &states)
        .unwrap();
    (t, RoutingPolicy::new(&c.router, &c.litellm.reliability))
}

fn input() -> PickInput {
    PickInput {
        stream: false,
        estimated_tokens: 10,
        now: Instant::now(),
    }
}

const TIERS: &str = "model_list:
  - {model_name: g, litellm_params: {model: openai/primary-a, api_base: 'http://127.0.0.1:1/v1', order: 1}}
  - {model_name: g, litellm_params: {model: openai/primary-b, api_base: 'http://127.0.0.1:2/v1', order: 1}}
  - {model_name: g, litellm_params: {model: openai/backup, api_base: 'http://127.0.0.1:3/v1', order: 2}}
";

#[test]
fn wildcards_capture_the_rest() {
    assert_eq!(match_wildcard("openai/*", "openai/gpt-4o"), Some("gpt-4o"));
    assert_eq!(match_wildcard("*", "anything"), Some("anything"));
    assert_eq!(match_wildcard("gpt-4*-mini", "gpt-4o-mini"), Some("o"));
    assert_eq!(match_wildcard("openai/*", "groq/x"), None);
    assert_eq!(match_wildcard("openai/*", "openai/"), None);
}

#[test]
fn lower_order_tier_first_higher_only_when_it_is_unavailable() {
    let (t, p) = table_and_policy(TIERS);
    let g = t.resolve("g").unwrap().group;
    for _ in 0..50 {
        assert_eq!(choose(&g, &p, &[], &input()).ok().unwrap().order, 1);
    }
    let now = Instant::now();
    g.deployments[0]
        .state
        .cool_down(Duration::from_secs(60), now);
    g.deployments[1].state.set_healthy(false);
    assert_eq!(choose(&g, &p, &[], &input()).ok().unwrap().model, "backup");
}

#[test]
fn tried_deployments_are_avoided_while_others_remain() {
    let (t, p) = table_and_policy(TIERS);
    let g = t.resolve("g").unwrap().group;
    let first = choose(&g, &p, &[], &input()).ok().unwrap();
    let second = choose(&g, &p, std::slice::from_ref(&first), &input())
        .ok()
        .unwrap();
    assert!(!Arc::ptr_eq(&first, &second));
    assert_eq!(second.order, 1);
    // All tried: the tier is used again rather than giving up.
    let again = choose(&g, &p, &g.deployments.clone(), &input())
        .ok()
        .unwrap();
    assert_eq!(again.order, 1);
}

#[test]
fn all_cooling_down_reports_the_soonest_end() {
    let (t, p) = table_and_policy(TIERS);
    let g = t.resolve("g").unwrap().group;
    let now = Instant::now();
    for (d, secs) in g.deployments.iter().zip([30, 10, 20]) {
        d.state.cool_down(Duration::from_secs(secs), now);
    }
    let none = choose(&g, &p, &[], &input()).err().unwrap();
    let left = none.retry_in.unwrap();
    assert!(left <= Duration::from_secs(10) && left > Duration::from_secs(9));
    let e = no_deployment_error("g", &p, &none);
    assert_eq!(e.status, 429);
    assert!(e
        .message
        .starts_with("No deployments available for selected model, Try again in 10 seconds"));
}

#[test]
fn group_aliases_and_wildcards_resolve() {
    let (t, _) = table_and_policy(
        "model_list:
  - {model_name: gpt-4o, litellm_params: {model: openai/gpt-4o, api_base: 'http://127.0.0.1:1/v1'}}
  - {model_name: 'openai/*', litellm_params: {model: 'openai/*', api_base: 'http://127.0.0.1:1/v1'}}
router_settings:
  model_group_alias: {gpt-4: gpt-4o, old: {model: gpt-4o, hidden: true}}
",
    );
    assert_eq!(&*t.resolve("gpt-4").unwrap().group.name, "gpt-4o");
    assert_eq!(&*t.resolve("old").unwrap().group.name, "gpt-4o");
    let w = t.resolve("openai/o3").unwrap();
    assert_eq!(
        (w.wildcard.as_deref(), &*w.group_name),
        (Some("o3"), "openai/o3")
    );
    assert_eq!(t.resolve("nope").err().unwrap().status, 400);
}

#[test]
fn pre_call_checks_skip_deployments_too_small_for_the_prompt() {
    let (t, p) = table_and_policy(
        "model_list:
  - {model_name: g, litellm_params: {model: openai/small, api_base: 'http://127.0.0.1:1/v1'}, model_info: {max_input_tokens: 100}}
  - {model_name: g, litellm_params: {model: openai/large, api_base: 'http://127.0.0.1:1/v1'}, model_info: {max_input_tokens: 100000}}
router_settings:
  enable_pre_call_checks: true
",
    );
    let g = t.resolve("g").unwrap().group;
    let big = PickInput {
        stream: false,
        estimated_tokens: 5000,
        now: Instant::now(),
    };
    for _ in 0..20 {
        assert_eq!(choose(&g, &p, &[], &big).ok().unwrap().model, "large");
    }
}
