//! A target's build args, lowest precedence first: the image's `build_args`, a variant's
//! `build_args`, the plan's
//! `build_args`, the image's `plan_build_args[plan]`, then `--build-arg`. The args that
//! chain a child to its parent (`BASE_TAG`, `BASE_IMAGE`) are added by
//! [`super::parent_input`], above all of these.

use std::collections::BTreeMap;

use crate::spec::{Image, PlanSpec, Variant};

pub fn resolve(
    image: &Image,
    variant: Option<&Variant>,
    plan: Option<&PlanSpec>,
    cli: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut args = image.build_args.clone();
    if let Some(v) = variant {
        args.extend(v.build_args.clone());
    }
    if let Some(p) = plan {
        args.extend(p.build_args.clone());
        if let Some(extra) = image.plan_build_args.get(&p.name) {
            args.extend(extra.clone());
        }
    }
    args.extend(cli.clone());
    args
}
