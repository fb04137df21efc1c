#!/usr/bin/env python3
"""Checks the library's layers and that no modules import each other in a circle.

stackplan's library is layered (docs/architecture.md): a pure core, the adapters that
touch the world, the flows that tie them together, and the command line on top. A module
may use its own layer and the ones below it, never one above:

    core  <-  adapters  <-  flows  <-  cli

This reads every `crate::…` path in src/ (`use` lines, grouped `use crate::{a, b::c}`
trees, and full paths in expressions), leaving out comments, string literals and test
code (`#[cfg(test)]` items and `tests.rs` files), and fails when

- a module imports one of a higher layer, or a module is in no layer (a new top-level
  module must be put in one here);
- top-level modules import each other in a circle (`a` uses `b`, `b` uses `a`), or the
  files of one folder do (`plan/cache.rs` and `plan/names.rs`; a folder's `mod.rs` and
  its children are one module and may use each other).

Python 3 standard library only; run by scripts/test.sh before the tests.
"""

import re
import sys
from pathlib import Path

# Each top-level module of src/ (a file `x.rs` or a folder `x/`) in its layer.
LAYERS = {
    "core": [
        "change_rules", "change_set", "context", "diagnostic", "dockerfile",
        "dockerignore", "emit", "error", "graph", "init", "inputs_digest", "manifests",
        "parent_from", "plan", "promote", "rebuild", "ref_facts", "reference", "spec",
        "stack", "tag", "test_record",
        # An order-keeping map over rayon's pool: work spread over the cores, no I/O; the
        # planner and the JSON emitter use it as much as the adapters do.
        "parallel",
    ],
    "adapter": [
        "buildkit", "context_reader", "fs", "git", "registry", "test_inputs",
    ],
    "flow": ["doctor", "flow", "session"],
    "cli": ["cli"],
}
RANK = {"core": 0, "adapter": 1, "flow": 2, "cli": 3}
LAYER_OF = {m: layer for layer, ms in LAYERS.items() for m in ms}

SRC = Path(__file__).resolve().parent.parent / "src"


def strip(text):
    """The text with comments, string and char literals blanked (newlines kept)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif m := re.match(r'b?r(#*)"', text[i:i + 260]):
            end = '"' + m.group(1)
            j = text.find(end, i + m.end())
            j = n if j < 0 else j + len(end)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == '"' or text.startswith('b"', i):
            j = i + (2 if c == "b" else 1)
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif m := re.match(r"b?'(\\(x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]+\}|.)|[^\\'\n])'", text[i:i + 16]):
            out.append(" " * m.end())
            i += m.end()
        else:
            # An identifier whole, so that `br"…"` is not read inside `abr"…"`.
            m = re.match(r"[A-Za-z_][A-Za-z0-9_]*", text[i:i + 200])
            step = m.end() if m else 1
            out.append(text[i:i + step])
            i += step
    return "".join(out)


def item_end(code, i):
    """Where the item starting at `i` ends: its `;`, or its `{…}` block closed."""
    depth = 0
    while i < len(code):
        c = code[i]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        elif c == ";" and depth == 0:
            return i + 1
        i += 1
    return i


def without_tests(code):
    """The code less its `#[cfg(test)]` items."""
    while m := re.search(r"#\[cfg\(test\)\]", code):
        end = item_end(code, m.end())
        code = code[: m.start()] + re.sub(r"[^\n]", " ", code[m.start():end]) + code[end:]
    return code


def use_paths(tree, prefix):
    """The paths of a use tree (`a::{b, c::{d, e}}`)."""
    tree = tree.strip()
    if not tree:
        return []
    if "{" not in tree:
        return [prefix + [p for p in tree.split(" as ")[0].split("::") if p]]
    head, _, rest = tree.partition("{")
    rest = rest[: rest.rfind("}")]
    base = prefix + [p for p in head.split("::") if p]
    parts, depth, start = [], 0, 0
    for j, c in enumerate(rest):
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(rest[start:j])
            start = j + 1
    parts.append(rest[start:])
    paths = []
    for part in parts:
        paths.extend(use_paths(part, base) if part.strip() else [])
    return paths


def module_of(path):
    """`src/plan/action.rs` → ["plan", "action"]; `src/plan/mod.rs` → ["plan"]."""
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] in ("mod", "lib"):
        parts = parts[:-1]
    return parts


def resolve(module, path, modules):
    """The module a path names, as the longest known module it starts with."""
    if not path:
        return None
    if path[0] == "crate":
        full = path[1:]
    elif path[0] in ("super", "self"):
        base = list(module)
        while path and path[0] in ("super", "self"):
            if path[0] == "super":
                base = base[:-1]
            path = path[1:]
        full = base + path
    else:
        return None
    for k in range(len(full), 0, -1):
        if tuple(full[:k]) in modules:
            return tuple(full[:k])
    return None


def edges():
    """(importer, imported, file, line) of every path to another module."""
    files = sorted(p for p in SRC.rglob("*.rs") if p.name != "main.rs")
    modules = {tuple(module_of(p)) for p in files}
    found = []
    for f in files:
        if f.name == "tests.rs":
            continue
        module = tuple(module_of(f))
        code = without_tests(strip(f.read_text()))
        paths = []
        for m in re.finditer(r"\buse\s+((?:crate|super|self)\b[^;]*);", code):
            for p in use_paths(re.sub(r"\s+", " ", m.group(1)), []):
                paths.append((p, m.start()))
        for m in re.finditer(r"(?<![\w:])(crate|super)((?:::[A-Za-z_]\w*)+)", code):
            paths.append(([m.group(1)] + m.group(2).split("::")[1:], m.start()))
        for p, at in paths:
            target = resolve(module, p, modules)
            if target and target != module:
                found.append((module, target, f, code.count("\n", 0, at) + 1))
    return modules, found


def circles(graph):
    """The circles of a graph {node: {neighbour: where}}, each once."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def shortest_circle(graph, component):
    """A shortest circle through the first module of a circle's modules, as a path."""
    start, inside = component[0], set(component)
    came = {start: None}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph.get(v, {})):
            if w == start:
                path = [v]
                while path[-1] != start:
                    path.append(came[path[-1]])
                return path[::-1] + [start]
            if w in inside and w not in came:
                came[w] = v
                queue.append(w)
    return component


def main():
    modules, found = edges()
    problems = []
    for top in sorted({m[0] for m in modules if m}):
        if top not in LAYER_OF:
            problems.append(f"src/{top}: in no layer (add it to LAYERS in {Path(__file__).name})")
    seen = set()
    for importer, imported, f, line in found:
        a, b = LAYER_OF.get(importer[0]), LAYER_OF.get(imported[0])
        if a and b and RANK[b] > RANK[a]:
            key = (f, line, imported)
            if key not in seen:
                seen.add(key)
                problems.append(
                    f"{f.relative_to(SRC.parent)}:{line}: {a} module `{'::'.join(importer)}` "
                    f"imports {b} module `{'::'.join(imported)}`"
                )
    # Circles between top-level modules, then between the files of each folder.
    groups = {}
    for importer, imported, f, line in found:
        common = 0
        while (common < min(len(importer), len(imported))
               and importer[common] == imported[common]):
            common += 1
        if common == len(importer) or common == len(imported):
            continue  # a folder's mod.rs and its own children
        a, b = importer[: common + 1], imported[: common + 1]
        groups.setdefault(importer[:common], {}).setdefault(a, {}).setdefault(
            b, f"{f.relative_to(SRC.parent)}:{line}")
    for parent in sorted(groups):
        graph = groups[parent]
        for component in circles(graph):
            path = shortest_circle(graph, component)
            steps = "; ".join(
                f"{'::'.join(a)} → {'::'.join(b)} at {graph[a][b]}"
                for a, b in zip(path, path[1:]))
            names = ", ".join("::".join(m) for m in component)
            problems.append(f"import circle between {names}: {steps}")
    if problems:
        print("check-layers: the library's layers do not hold:", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    print(f"check-layers: {len(modules)} modules, {len(found)} imports between them: "
          "layers and no circles hold", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
