/**
 * Credentials out of text meant for an operator's terminal or logs: the password of any URL
 * (`scheme://user:PASSWORD@host`), `password=` style parameters (PostgreSQL query strings and
 * conninfo, PGPASSWORD=), and bearer tokens. Over-redacting is preferred to leaking.
 */

const MASK = '***';

/** Placeholders of help text (`USER:PASS@HOST`), not secrets. */
const PLACEHOLDERS = new Set(['PASS', 'PASSWORD']);

// The password runs to the last @ before whitespace or a quote, so an unencoded @ or / in it
// (which URL parsers reject, and we echo) is still covered.
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^\s:@/?#'"`]*):([^\s'"`]*)@/gi;
const SECRET_PARAMETER = /((?:^|[\s?&;,])[\w.-]*(?:pass|pwd|secret|token)[\w.-]*=)[^\s&;,'"`]*/gi;
const BEARER = /(\bbearer\s+)[^\s'"`,;]+/gi;

export function redactCredentials(text: string): string {
  return text
    .replace(URL_PASSWORD, (whole, prefix: string, password: string) =>
      PLACEHOLDERS.has(password) ? whole : `${prefix}:${MASK}@`,
    )
    .replace(SECRET_PARAMETER, `$1${MASK}`)
    .replace(BEARER, `$1${MASK}`);
}

/**
 * A JSON.parse error's message without the excerpt of the input V8 quotes (`Unexpected token
 * 'x', "…input…" is not valid JSON`): a config or key file may hold a secret next to the mistake.
 */
export function jsonErrorWithoutExcerpt(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const quoted = /^(.*?)(?:, )?(?:\.\.\.)?".*"(?:\.\.\.)? is not valid JSON$/s.exec(message);
  if (quoted === null) return message;
  return quoted[1] === '' ? 'not valid JSON' : quoted[1]!;
}
