// The page's CSS, injected as a <style> element so the built site is scripts and one HTML file.
export const CSS = `
:root{--fg:#1f2328;--muted:#656d76;--line:#d0d7de;--panel:#f6f8fa;--cand:#3b6fd8;--bad:#cf222e}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:var(--fg)}
main{max-width:1000px;margin:0 auto;padding:24px}
h1 small{font-weight:400;color:var(--muted)}
h2{font-size:18px;border-bottom:1px solid var(--line);padding-bottom:4px;margin-top:28px}
.meta{color:var(--muted)}
.drop{display:block;border:2px dashed var(--line);border-radius:8px;padding:24px;text-align:center;background:var(--panel)}
.drop.over{border-color:var(--cand)}
.error{color:var(--bad);font-weight:600}
table{border-collapse:collapse;margin:8px 0}
th,td{border:1px solid var(--line);padding:3px 8px;text-align:left;vertical-align:top}
th{background:var(--panel)}
#steps label{margin-right:14px;white-space:nowrap}
.step-form{display:flex;flex-wrap:wrap;gap:8px 16px;border:1px solid var(--line);border-radius:8px;padding:8px;margin:8px 0}
.step-form h3{width:100%;margin:0;font-size:14px}
.step-form label{display:flex;flex-direction:column;font-size:12px;color:var(--muted)}
.step-form input,.step-form select{min-width:120px}
#downloads a{display:inline-block;margin-right:16px}
.charts{display:flex;flex-wrap:wrap;gap:16px}
figure.chart{margin:0;padding:12px;border:1px solid var(--line);border-radius:8px}
svg.chart-svg{display:block;max-width:100%;height:auto}
svg text{font:11px system-ui,sans-serif;fill:var(--fg)}
svg .tick{fill:var(--muted)}svg .grid{stroke:#eaeef2}svg .axis{stroke:var(--muted)}svg .plot{fill:none;stroke:var(--line)}
.bar.candidate rect{fill:var(--cand)}.bar.baseline rect{fill:#8c959f}
`;
