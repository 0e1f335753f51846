/** HTML escaping for the kit's rendered outputs (tables, figures, checks, verdicts, reports, progress bars). */

/** `s` safe inside HTML text and double-quoted attributes: `&`, `<`, `>` and `"` escaped. */
export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** `s` safe inside HTML element text and Plotly labels (both read `&`, `<`, `>` as markup); quotes left as they are. */
export function escapeHtmlText(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
