"""Render an HTML file in headless Chromium and report what a reviewer's browser saw.

A checker script is injected at the top of ``<head>`` (before anything else runs): it records
script errors, resource errors and ``console.error`` calls, and after ``load`` writes, into
the DOM, each image's decoded width and the patient sections present. ``--dump-dom`` prints
that DOM, which is parsed back here.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--virtual-time-budget=15000",
)

CHECKER = """<script>
window.__problems = [];
window.addEventListener('error', function (e) {
  var where = e.target && e.target.tagName ? e.target.tagName : 'script';
  window.__problems.push(where + ': ' + (e.message || 'failed to load'));
}, true);
var __consoleError = console.error;
console.error = function () {
  window.__problems.push('console.error: ' + Array.prototype.join.call(arguments, ' '));
  __consoleError.apply(console, arguments);
};
window.addEventListener('load', function () {
  var images = Array.prototype.map.call(document.images, function (img) {
    return {alt: img.alt, width: img.naturalWidth, complete: img.complete};
  });
  var patients = Array.prototype.map.call(
    document.querySelectorAll('[data-patient-id]'),
    function (s) { return s.getAttribute('data-patient-id'); });
  var out = document.createElement('pre');
  out.id = '__render_check';
  out.textContent = JSON.stringify({
    problems: window.__problems, images: images, patients: patients,
    banner: !!document.getElementById('simulated-banner'),
    headings: Array.prototype.map.call(document.querySelectorAll('h2'),
      function (h) { return h.textContent.trim(); })
  });
  document.body.appendChild(out);
});
</script>"""


def chromium() -> str | None:
    """Path of a Chromium binary, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def render_check(page: Path, workdir: Path, timeout: float = 120.0) -> dict:
    """Open ``page`` in headless Chromium; return problems, images, patients, banner, stderr."""
    binary = chromium()
    if binary is None:
        raise RuntimeError("no chromium binary")
    text = page.read_text(encoding="utf-8")
    checked = workdir / f"checked-{page.name}"
    checked.write_text(re.sub(r"<head>", "<head>" + CHECKER, text, count=1), encoding="utf-8")
    profile = workdir / f"chromium-profile-{page.stem}"
    run = subprocess.run(
        [
            binary,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            checked.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    match = re.search(r'<pre id="__render_check">(.*?)</pre>', run.stdout, re.S)
    if match is None:
        raise RuntimeError(f"the page did not finish loading:\n{run.stderr[-2000:]}")
    result = json.loads(html.unescape(match.group(1)))
    uncaught = [
        line for line in run.stderr.splitlines() if "CONSOLE" in line and "Uncaught" in line
    ]
    result["problems"] += uncaught
    result["stderr"] = run.stderr
    return result


def page_is_sound(result: dict, patients: list[str]) -> list[str]:
    """Everything wrong with a rendered report (empty when sound)."""
    wrong = list(result["problems"])
    wrong += [f"image not decoded: {i['alt']}" for i in result["images"] if not i["width"] > 0]
    if not result["images"]:
        wrong.append("no images")
    wrong += [f"patient {p} not shown" for p in patients if p not in result["patients"]]
    return wrong
