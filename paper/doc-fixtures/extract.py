#!/usr/bin/env python3
"""Extracts the examples of Binance's own docs (../shared/binance/upstream/) into
paper/tests/doc-fixtures/, one JSON file per example:

- rest/: the example response of every endpoint of rest-api.md, `<METHOD> <path>[ <variant>][
  #n].json` (`order.test` for `/api/v3/order/test`; the variant is the doc's heading after
  "Response", e.g. "FULL"; `#2`... the alternatives that follow the first example, as "OR");
- ws-api/: the same for every method of web-socket-api.md, by method name;
- streams/: every code example of web-socket-streams.md (the control requests and their
  responses, `serverShutdown`, each stream's payload), by the section's heading (`<heading>
  request` / `<heading> response` for the control messages, `#2`... for the next example of a
  section);
- user-data/: every event of user-data-stream.md, by its event type (`executionReport.json`);
- filters/: every filter of filters.md, by its `filterType` (`PRICE_FILTER.json`);
- other/: the error body of errors.md (`error.json`) and the rate limits of enums.md, by their
  `rateLimitType` (`REQUEST_WEIGHT.json`).

The docs' JavaScript is made JSON: `//` comments and trailing commas go. Run from the
repository's root:

    python3 paper/doc-fixtures/extract.py [path/to/rest-api.md]

paper/tests/paper.rs and paper_ws.rs compare the paper exchange's answers and frames with every
file it writes.
"""
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEFAULT = os.path.join(ROOT, "..", "shared", "binance", "upstream", "rest-api.md")
OUT = os.path.join(ROOT, "paper", "tests", "doc-fixtures", "rest")
OUT_WS = os.path.join(ROOT, "paper", "tests", "doc-fixtures", "ws-api")
OUT_STREAMS = os.path.join(ROOT, "paper", "tests", "doc-fixtures", "streams")
OUT_USER = os.path.join(ROOT, "paper", "tests", "doc-fixtures", "user-data")
OUT_FILTERS = os.path.join(ROOT, "paper", "tests", "doc-fixtures", "filters")
OUT_OTHER = os.path.join(ROOT, "paper", "tests", "doc-fixtures", "other")


def javascript_to_json(text):
    out_lines = []
    for line in text.splitlines():
        # Drop a `//` comment that is not inside a string.
        in_string, escaped, cut = False, False, None
        for i, c in enumerate(line):
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = not in_string
            elif not in_string and line.startswith("//", i):
                cut = i
                break
        if cut is not None:
            line = line[:cut]
        if line.strip() in ("...", "…"):
            continue
        out_lines.append(line)
    text = "\n".join(out_lines)
    text = re.sub(r",(\s*[}\]])", r"\1", text)
    return json.loads(text)


def response_blocks(lines, i):
    """The code blocks after the response heading at line `i`, up to the next heading, and the
    line to go on from."""
    blocks, j, caption = [], i + 1, ""
    while j < len(lines) and not re.match(r"^(#|\*\*|<a id)", lines[j]):
        if lines[j].startswith("```"):
            k = j + 1
            while k < len(lines) and not lines[k].startswith("```"):
                k += 1
            blocks.append(("\n".join(lines[j + 1 : k]), caption))
            caption = ""
            j = k
        elif lines[j].strip():
            caption = lines[j].strip()
        j += 1
    return blocks, j - 1


def clean(out):
    os.makedirs(out, exist_ok=True)
    for old in os.listdir(out):
        if old.endswith(".json") or old == "INDEX.txt":
            os.remove(os.path.join(out, old))


def write(out, name, value):
    with open(os.path.join(out, name + ".json"), "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2)
        f.write("\n")


def write_index(source, out, what, index, written, failed, sources=None):
    sources = sources or os.path.basename(source)
    with open(os.path.join(out, "INDEX.txt"), "w", encoding="utf-8") as f:
        f.write(f"# The {what} of {sources}, each with the line before it.\n")
        f.write("# Written by paper/doc-fixtures/extract.py: do not edit.\n")
        f.writelines(line + "\n" for line in index)
    print(f"{written} examples written to {os.path.relpath(out, ROOT)}")
    for f in failed:
        print(f"not JSON: {f}")


def extract(source, out, endpoint_of):
    """Writes every response example of `source` to `out`; `endpoint_of(line)` names the
    endpoint a line starts (or returns None)."""
    with open(source, encoding="utf-8") as f:
        lines = f.read().splitlines()
    clean(out)
    endpoint, written, failed, index = None, 0, [], []
    i = 0
    while i < len(lines):
        line = lines[i]
        endpoint = endpoint_of(line) or endpoint
        m = re.match(r"^\*\*Response(.*?):?\*\*:?\s*$", line)
        if m and endpoint:
            variant = m.group(1).strip(" -:")
            blocks, i = response_blocks(lines, i)
            base = endpoint + (f" {variant}" if variant else "")
            base = re.sub(r"[^A-Za-z0-9 _.-]", "", base).strip()
            for n, (block, caption) in enumerate(blocks, start=1):
                name = base if n == 1 else f"{base} #{n}"
                index.append(f"{name}: {caption}" if caption else name)
                try:
                    value = javascript_to_json(block)
                except json.JSONDecodeError as e:
                    failed.append(f"{name}: {e}")
                    continue
                write(out, name, value)
                written += 1
        i += 1
    write_index(source, out, "response examples", index, written, failed)


def extract_sections(source, out, name_of, keep=False):
    """Writes every code example of `source` to `out`, wherever it stands (indented under a
    bullet too); `name_of(heading, caption, value)` names it from its section's heading, the
    text line before it and its JSON (the next example of the same name gets `#2`...)."""
    with open(source, encoding="utf-8") as f:
        lines = f.read().splitlines()
    if not keep:
        clean(out)
    heading, caption, seen, written, failed, index = "", "", {}, 0, [], []
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        m = re.match(r"^#+\s+(.*)$", lines[i])
        if m:
            heading, caption = m.group(1).strip(), ""
        elif line.startswith("```"):
            k = i + 1
            while k < len(lines) and not lines[k].strip().startswith("```"):
                k += 1
            block = "\n".join(lines[i + 1 : k])
            i = k
            try:
                value = javascript_to_json(block)
            except json.JSONDecodeError as e:
                failed.append(f"{heading}: {e}")
                continue
            base = re.sub(r"[^A-Za-z0-9 _.-]", "", name_of(heading, caption, value)).strip()
            seen[base] = seen.get(base, 0) + 1
            name = base if seen[base] == 1 else f"{base} #{seen[base]}"
            index.append(f"{name}: {heading}: {caption}" if caption else f"{name}: {heading}")
            write(out, name, value)
            written += 1
            caption = ""
        elif line and not line.startswith("<"):
            caption = line.strip("* ").rstrip(":")
        i += 1
    sources = None
    if keep:
        with open(os.path.join(out, "INDEX.txt"), encoding="utf-8") as f:
            before = f.read().splitlines()
        earlier = re.match(r"^# The examples of (.*), each with", before[0]).group(1)
        sources = f"{earlier} and {os.path.basename(source)}"
        index = before[2:] + index
    write_index(source, out, "examples", index, written, failed, sources)


def stream_example(heading, caption, value):
    if caption in ("Request", "Response"):
        return f"{heading} {caption.lower()}"
    return heading


def other_example(heading, caption, value):
    if isinstance(value, dict) and "rateLimitType" in value:
        return value["rateLimitType"]
    if isinstance(value, dict) and "code" in value:
        return "error"
    return heading


def filter_type(heading, caption, value):
    return value.get("filterType", heading) if isinstance(value, dict) else heading


def user_data_event(heading, caption, value):
    event = value.get("event", value) if isinstance(value, dict) else {}
    return event.get("e") or heading


def rest_endpoint(line):
    m = re.match(r"^(GET|POST|PUT|DELETE) /api/v3/(\S+)\s*$", line)
    return f"{m.group(1)} {m.group(2).replace('/', '.')}" if m else None


def ws_method(line):
    m = re.match(r'^\s*(?:\{ "id": \d+, )?"method": "([A-Za-z0-9.]+)"', line)
    return m.group(1) if m else None


def main():
    upstream = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(DEFAULT)
    extract(os.path.join(upstream, "rest-api.md"), OUT, rest_endpoint)
    extract(os.path.join(upstream, "web-socket-api.md"), OUT_WS, ws_method)
    extract_sections(os.path.join(upstream, "web-socket-streams.md"), OUT_STREAMS, stream_example)
    extract_sections(os.path.join(upstream, "user-data-stream.md"), OUT_USER, user_data_event)
    extract_sections(os.path.join(upstream, "filters.md"), OUT_FILTERS, filter_type)
    extract_sections(os.path.join(upstream, "errors.md"), OUT_OTHER, other_example)
    extract_sections(os.path.join(upstream, "enums.md"), OUT_OTHER, other_example, keep=True)


if __name__ == "__main__":
    main()
