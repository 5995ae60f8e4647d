/**
 * Log hygiene after a full end-to-end run (issue 11): the servers' own logs and nginx's logs of the whole
 * suite hold none of the seeded customers' personal data, no demo password or authenticator secret, and no
 * session token.
 *
 *   npx tsx --conditions=react-server tests/operations/log-hygiene.ts SERVER_LOG_FILE DATA_DIR [DATA_DIR ...]
 *
 * SERVER_LOG_FILE is the servers' output (run.sh's SERVER_LOG_FILE, which `./run.sh test` sets for the
 * end-to-end suite); each DATA_DIR is a suite server's data folder, holding its demo credentials
 * (demo-credentials.json: passwords and TOTP secrets made for that install) and, behind nginx, nginx's logs
 * (nginx-runtime/logs). The seeded profiles come from the seed itself, so a new seeded field is checked too.
 * Exit status 0 when nothing was found, 1 otherwise (with the file, line and kind of value, never the value).
 */
import fs from "node:fs";
import path from "node:path";
import { demoCustomers, type DemoCredentialsFile } from "@/db/seed-demo-data";

interface Needle {
  readonly kind: string;
  readonly value: string;
}

const [serverLogFile, ...dataDirectories] = process.argv.slice(2);
if (!serverLogFile || dataDirectories.length === 0) {
  process.stderr.write("usage: log-hygiene.ts SERVER_LOG_FILE DATA_DIR [DATA_DIR ...]\n");
  process.exit(2);
}

const failures: string[] = [];
function check(condition: boolean, message: string): void {
  if (!condition) failures.push(message);
  process.stdout.write(`${condition ? "ok  " : "FAIL"} ${message}\n`);
}

// What must never be logged. Values shorter than six characters are left out: they would match by chance.
const needles: Needle[] = [];
function addNeedle(kind: string, value: string | undefined): void {
  if (value && value.trim().length >= 6) needles.push({ kind, value: value.trim() });
}
for (const customer of demoCustomers) {
  addNeedle("a seeded customer's legal name", customer.legalName);
  addNeedle("a seeded customer's email", customer.email);
  addNeedle("a seeded date of birth", customer.profile.dateOfBirth);
  addNeedle("a seeded phone number", customer.profile.phone);
  addNeedle("a seeded national identifier", customer.profile.nationalIdentifier);
  for (const line of customer.profile.postalAddress.split("\n")) addNeedle("a seeded postal address line", line);
}
for (const directory of dataDirectories) {
  const file = path.join(directory, "demo-credentials.json");
  const credentials = JSON.parse(fs.readFileSync(file, "utf8")) as DemoCredentialsFile;
  check(credentials.signIns.length > 0, `${file} lists the demo sign-ins`);
  for (const signIn of credentials.signIns) {
    addNeedle("a demo password", signIn.password);
    addNeedle("a demo authenticator secret", signIn.totpSecret);
  }
}

// A session token is an encrypted JWT (JWE compact form: five base64url parts, the first a JSON header), and
// the cookie that carries it is named ...authjs.session-token.
const tokenPatterns: { kind: string; pattern: RegExp }[] = [
  { kind: "a JWE (session token)", pattern: /eyJ[\w-]{10,}\.[\w-]*\.[\w-]{10,}\.[\w-]{10,}\.[\w-]{10,}/ },
  { kind: "a session cookie", pattern: /authjs\.session-token=/ },
];

const logFiles = [serverLogFile];
for (const directory of dataDirectories) {
  const nginxLogs = path.join(directory, "nginx-runtime", "logs");
  if (fs.existsSync(nginxLogs)) {
    for (const name of fs.readdirSync(nginxLogs)) logFiles.push(path.join(nginxLogs, name));
  }
}

// The check must have something to look at: the servers' structured log of a whole run, with request ids.
const serverLines = fs.readFileSync(serverLogFile, "utf8").split("\n");
const structuredLines = serverLines.filter((line) => line.startsWith("{"));
check(structuredLines.length >= 10, `the servers' log holds their structured lines (${structuredLines.length})`);
check(
  structuredLines.some((line) => line.includes('"requestId"')),
  "the servers' log holds lines written while serving a request (with a request id)",
);
check(needles.length >= 20, `${needles.length} seeded values and secrets to look for`);

for (const file of logFiles) {
  const lines = fs.readFileSync(file, "utf8").split("\n");
  let found = 0;
  lines.forEach((line, index) => {
    const lowerLine = line.toLowerCase();
    for (const needle of needles) {
      if (lowerLine.includes(needle.value.toLowerCase())) {
        found += 1;
        if (found <= 5) process.stdout.write(`  ${file}:${index + 1}: ${needle.kind}\n`);
      }
    }
    for (const { kind, pattern } of tokenPatterns) {
      if (pattern.test(line)) {
        found += 1;
        if (found <= 5) process.stdout.write(`  ${file}:${index + 1}: ${kind}\n`);
      }
    }
  });
  check(found === 0, `${path.relative(process.cwd(), file)} (${lines.length} lines) holds no PII, password, authenticator secret or session token`);
}

process.stdout.write(failures.length === 0 ? "log hygiene: clean\n" : `log hygiene: ${failures.length} problem(s)\n`);
process.exitCode = failures.length === 0 ? 0 : 1;
