"""The obshell-compatible API (spec sections 1-7): routes in urls.py, views in views_*.py, the envelope in
envelope.py/middleware.py, DTOs in dto.py. Authentication lives in upgrades.security.

Decisions where obshell gives no answer or where this server goes beyond it:
* /api/schema serves the plain OpenAPI 3.1 document (not enveloped), so OpenAPI tools can read it. obshell
  publishes none; this one (upgrades/api/schemas.py) is strict: every answer is exactly the envelope with the
  route's named `data` component (no other key), request bodies are described as plaintext (under v2 they
  travel AES-encrypted) and required, and a route's 500 answer lists the obshell errCodes it may carry
  (conflicts such as OB.Cluster.UnderMaintenanceWithDag or OB.Package.InUse, AES key/length errors, the
  plain-error Common.Unexpected of an unreadable rpm or a missing package record). The crash answer
  (Common.Unexpected "Unexpected error: Internal Server Error") is documented nowhere; the fuzz treats it as
  a failure.
* A token is the password and selects its cluster. Under /clusters/<name>/api/v1/... a token of another
  cluster is a wrong password (401 Security.Authentication.IncorrectOceanbasePassword, code 10008); an
  unknown <name> is 404 Common.NotFound for session users with the viewer role (info, status and secret
  alike). A <name> that is not a slug matches no route: 404 Common.NotFound, in the envelope like any /api/ path.
* Open routes (info, status, secret) tell an anonymous caller nothing of the fleet or the host: no zone or
  cluster version; under /clusters/<name>/ the answer is the same whether <name>
  exists or not (anonymous callers cannot probe cluster names; authenticated routes refuse a missing header
  or a wrong token before any cluster is looked up, so they cannot either). A signed-in viewer gets
  obshell's full answer.
* Tokens may expire and may be read-only (`create_token --expires-in DAYS --read-only`). An expired token
  is 401 Security.Authentication.Expired (the code obshell gives an expired auth header), code 10008; a
  read-only token on POST or DELETE is 401 Security.User.PermissionDenied (obshell's code for missing
  rights; obshell never sends 403). Both are judged before the replay cache, so the header is not spent.
* X-OCS-Agent-Header is read like X-OCS-Header (this server has no agent password: `security` is false),
  so it also carries a token; obshell would accept it with no password check at all.
* A replayed header (seen before within its lifetime: the same decrypted content, or any RSA block of an
  accepted header) is 401 Common.Unauthorized, code 10008. Non-canonical base64, or blocks that are not
  consecutive chunks of one document, are 401 Security.Authentication.Header.DecryptFailed (code 1); a ts
  more than OCS_MAX_HEADER_LIFETIME_SECONDS ahead is 401 Security.Authentication.Timestamp.Invalid.
* Browser sessions: viewer for GET, operator for POST/DELETE (admin on package routes), CSRF on unsafe
  methods; a missing role is 401 Security.User.PermissionDenied (obshell never sends 403). Without the
  /clusters/<name>/ prefix a session sees every cluster's DAGs and cannot start upgrades (400
  Request.Path.Param.Empty).
* Package routes serve a fleet-wide store (upgrades/services/packages.py): a token lists its cluster's
  uploads plus those of sessions and commands, and deletes only its cluster's uploads (another cluster's
  package is 404 Common.NotFound, a fleet-wide one 401 Security.User.PermissionDenied); a session needs the
  admin role to upload or delete (401 Security.User.PermissionDenied). Uploading another file under a stored
  name-version-release-arch is 400 OB.Package.IdentityConflict; the same md5 answers with the stored package.
  With PACKAGE_KEYRING set, 400 OB.Package.Unsigned / OB.Package.Signature.Invalid (the signer is shown on
  the packages page only: obshell's DTOs have no field for it).
* X-OBSHELL-Trace-ID is echoed as traceId only when it matches ^[A-Za-z0-9._-]{1,64}$; anything else is
  replaced by a generated id (obshell echoes any value). Anonymous auth failures are tallied per source and
  minute (AuthFailureTally) with one audit entry per source and minute; refusals naming a real token or a
  signed-in user are audited per request (upgrades/security/authenticate.py).
* DELETE /api/v1/upgrade/package/:id as obshell (views_packages.py): Go's Atoi error is 400
  Request.Query.Param.Illegal, a non-positive id 400 Request.Path.Param.Empty, an id that names nothing (or
  another cluster's package) deletes nothing and succeeds; a package an unfinished DAG needs is 500
  OB.Package.InUse (obshell's conflicts are 500).
* POST /api/v1/package (unencrypted multipart, X-OCS-File-SHA256): obshell leaves it outside Verify, so anyone
  with the public key may upload; here it needs a token or a session like every other upload.
* POST /api/v1/upgrade/params/restore reads its documented body `{"params": [...]}` (obshell's handler never
  binds it and so restores nothing); an empty body restores the cluster's last params backup.
* Error messages follow Accept-Language (i18n.py): Chinese for zh*, from the header only, on the API only; a
  header listing several languages is read by q-value (obshell reads one tag). Where obshell panics (a 500 with
  no envelope) the answer here is the envelope.
* /api/v1/info and /api/v1/status carry pid 0 and homePath "" for everyone (no detail of this server).
* `reason` (upgrade and operators) is at most 2000 characters, as in the pages (upgrades.audit.REASON_MAX_LENGTH):
  400 Common.BindJsonFailed with gin's message for a failed `max` tag.
* JSON bodies are limited to DATA_UPLOAD_MAX_MEMORY_SIZE (400 Common.BindJsonFailed beyond it; a declared
  Content-Length beyond it is refused before the body is read, see upgrades/api/asgi.py); uploads are
  streamed to disk, up to PACKAGE_MAX_BYTES of file (400 OB.Package.TooLarge beyond it, judged on the
  declared size before the body is read, then on the bytes; see upgrades/packages/limits.py). A dep file
  that is not a plain dep file is 400 OB.Package.DepYaml.Invalid at upload.
* A bound body string (version, release, upgradeDir, mode, operator, reason) carrying a NUL character is 400
  Common.BindJsonFailed (gin would accept it; nothing valid has one and PostgreSQL stores none). Elsewhere a NUL
  that reaches the audit (a request path, say) is written as the four characters \\x00.
* Agent-local task ids (prefixes 2-5) are well-formed but name nothing here: 404 Task.NotFound.
* GET /api/v1/info (and status) at the root carries no token and therefore names no cluster: it describes this
  server itself (its own version, 4.5.0.0-..., and start time), which is what the SDK reads to choose its auth.
  Under /clusters/<name>/ a signed-in viewer gets that cluster's agent instead: the cluster agent's recorded
  obshell version and the time it last started (upgrades/api/agent.py). ob/info lists every agent's version.
* POST /api/v1/agent/upgrade[/check] (views_upgrade.py, upgrades/planning/agent_plan.py) check what obshell's
  preCheckForAgentUpgrade checks, in its order; the upgrade also accepts `reason`, as ob/upgrade does.
"""
