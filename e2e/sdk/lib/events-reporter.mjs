// A node:test reporter that writes one JSON object per line for every finished
// test, so that the Go runner (e2e/sdk_test.go) can turn each Node test into a
// Go subtest. Line shape:
//   {"path": ["file.test.mjs", "suite", "test"],
//    "status": "pass"|"fail"|"skip"|"todo"|"cancelled",
//    "suite": bool, "durationMs": n, "error": "message", "stack": "..."}
// Suites (and Node 20's per-file wrapper tests) are reported only when they
// fail for a reason of their own (a failing before() hook, a file that does not
// load), not merely because some of their tests failed. Tests cancelled because
// their suite failed are reported as "cancelled".

import path from "node:path";

function fileLabel(file) {
  return file ? path.basename(file) : "(unknown file)";
}

function describeError(err) {
  if (!err) return { error: "", stack: "" };
  // node:test wraps failures in ERR_TEST_FAILURE; the cause is the real error.
  const cause = err.code === "ERR_TEST_FAILURE" && err.cause ? err.cause : err;
  const message = cause?.message ?? String(cause);
  const stack = typeof cause?.stack === "string" ? cause.stack : "";
  return { error: message, stack };
}

export default async function* eventsReporter(source) {
  // stacks[file][nesting] = name of the test running at that depth.
  const stacks = new Map();
  for await (const event of source) {
    const { type, data } = event;
    if (type !== "test:start" && type !== "test:pass" && type !== "test:fail") continue;
    const file = data.file;
    // Node 20 wraps each file in a test named after the file's path; Node 22+ does not.
    const isFileWrapper = file && (data.name === file || path.resolve(data.name) === path.resolve(file));
    let stack = stacks.get(file);
    if (!stack) stacks.set(file, (stack = []));
    if (type === "test:start") {
      stack[data.nesting] = isFileWrapper ? null : data.name;
      stack.length = data.nesting + 1;
      continue;
    }
    const isSuite = data.details?.type === "suite" || isFileWrapper;
    const failureType = data.details?.error?.failureType;
    let status = type === "test:fail" ? "fail" : data.skip !== undefined ? "skip" : data.todo !== undefined ? "todo" : "pass";
    if (status === "fail" && failureType === "cancelledByParent") status = "cancelled";
    if (isSuite && (status !== "fail" || failureType === "subtestsFailed")) continue;
    const parents = stack.slice(0, data.nesting).filter((n) => n != null);
    const names = isFileWrapper ? [] : [data.name];
    const out = {
      path: [fileLabel(file), ...parents, ...names],
      status,
      suite: Boolean(isSuite),
      durationMs: data.details?.duration_ms ?? 0,
      ...(status === "fail" ? describeError(data.details?.error) : {}),
      ...(status === "fail" && failureType === "hookFailed" ? { error: `a hook (before/after) failed: ${describeError(data.details?.error).error}` } : {}),
      ...(status === "skip" && typeof data.skip === "string" ? { error: data.skip } : {}),
    };
    yield JSON.stringify(out) + "\n";
  }
}
