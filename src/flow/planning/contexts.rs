//! Every image's build context read for the plan, as BuildKit will receive it, alongside
//! the stack or after it.

use std::path::Path;

use crate::flow::Reporter;

use super::{StackRequest, checked, location};
use crate::context::Contexts;
use crate::context_reader::{self, ContextRequest};
use crate::error::Result;
use crate::session::Session;
use crate::spec::Spec;
use crate::stack::Stack;

/// The stack and every image's build context as BuildKit will receive it. The contexts
/// are walked as soon as the spec names the images, on the cores the Dockerfiles and the
/// stack's checks leave free; their files are read once the stack holds the Dockerfiles'
/// ids (a Dockerfile is not read twice).
pub(super) fn read_with_contexts(
    session: &Session,
    args: &StackRequest,
    root: &Path,
    reporter: &mut dyn Reporter,
) -> Result<(Stack, Contexts)> {
    let location = location(args, root);
    let files = crate::fs::read_spec(&location)?;
    let mut requests = context_requests(&files.spec, &location.images_dir);
    let (stack, walked) = rayon::join(
        || crate::fs::assemble_stack(&location, files),
        || context_reader::walk_contexts(root, &requests),
    );
    // The stack's findings come first: a context of a stack that does not hold together
    // is not worth reporting.
    let stack = checked(args, stack?, root, reporter)?;
    session.mark("load stack");
    with_dockerfile_ids(&mut requests, &stack);
    let contexts = context_reader::digest_contexts(root, &requests, walked?)?;
    session.mark("read contexts");
    Ok((stack, contexts))
}

/// Every image's context, once the stack holds its Dockerfiles' ids.
pub(super) fn read_contexts(session: &Session, root: &Path, stack: &Stack) -> Result<Contexts> {
    let mut requests = context_requests(&stack.spec, &stack.images_dir);
    with_dockerfile_ids(&mut requests, stack);
    let contexts = context_reader::read_contexts(root, &requests)?;
    session.mark("read contexts");
    Ok(contexts)
}

/// The Dockerfiles' ids the stack knows: they are not read again.
fn with_dockerfile_ids(requests: &mut [ContextRequest], stack: &Stack) {
    for request in requests {
        request.dockerfile_id = stack.dockerfile_ids.get(&request.key).cloned();
    }
}

/// What to read of every image's and variant's context.
fn context_requests(spec: &Spec, images_dir: &str) -> Vec<ContextRequest> {
    let join = crate::stack::join;
    let mut requests: Vec<ContextRequest> = Vec::new();
    for image in spec.images.values() {
        let folder = join(images_dir, &image.key);
        for variant in image.variants.values() {
            requests.push(ContextRequest {
                key: variant.key(&image.key),
                folder: join(&folder, &variant.context),
                dockerfile: variant.dockerfile.clone(),
                dockerfile_id: None,
            });
        }
        requests.push(ContextRequest {
            key: image.key.clone(),
            folder,
            dockerfile: image.dockerfile.clone(),
            dockerfile_id: None,
        });
    }
    requests
}
