export const id = 623;
export const ids = [623];
export const modules = {

/***/ 623:
/***/ ((__unused_webpack___webpack_module__, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   runLocal: () => (/* binding */ runLocal)
/* harmony export */ });
/* harmony import */ var node_fs_promises__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(1455);
/* harmony import */ var node_os__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(8161);
/* harmony import */ var node_path__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(6760);
/* harmony import */ var _common_errors_js__WEBPACK_IMPORTED_MODULE_13__ = __webpack_require__(3302);
/* harmony import */ var _engine_index_js__WEBPACK_IMPORTED_MODULE_3__ = __webpack_require__(5291);
/* harmony import */ var _kube_auth_js__WEBPACK_IMPORTED_MODULE_4__ = __webpack_require__(4998);
/* harmony import */ var _kube_client_js__WEBPACK_IMPORTED_MODULE_5__ = __webpack_require__(6254);
/* harmony import */ var _kube_pod_api_js__WEBPACK_IMPORTED_MODULE_6__ = __webpack_require__(2403);
/* harmony import */ var _kube_pod_proof_js__WEBPACK_IMPORTED_MODULE_7__ = __webpack_require__(6877);
/* harmony import */ var _report_escape_js__WEBPACK_IMPORTED_MODULE_8__ = __webpack_require__(2527);
/* harmony import */ var _report_live_log_js__WEBPACK_IMPORTED_MODULE_9__ = __webpack_require__(1781);
/* harmony import */ var _common_url_credentials_js__WEBPACK_IMPORTED_MODULE_12__ = __webpack_require__(7835);
/* harmony import */ var _common_sensitive_js__WEBPACK_IMPORTED_MODULE_11__ = __webpack_require__(2609);
/* harmony import */ var _io_js__WEBPACK_IMPORTED_MODULE_10__ = __webpack_require__(8908);
/**
 * `pod-dag run`: the action's engine against the current kubeconfig, with the same live log.
 * There is no GitHub run here: the run id is local (`local-<time>`, or POD_DAG_RUN_ID to re-attach
 * to an interrupted run), and the result is printed instead of a job summary.
 *
 * With POD_DAG_RUN_ID, the key that signs the run's pods (src/kube/pod-proof.ts) is kept in a file
 * of the user's (`$XDG_STATE_HOME/pod-dag-action/keys/`, else `~/.local/state/...`, mode 0600), so
 * a second `pod-dag run` with the same id adopts the pods of the first, and no one else's.
 */














/** Runs the DAG; resolves to the exit code (0 success, 1 failed or cancelled, 2 cannot start). */
async function runLocal(run, given) {
    let io = given;
    try {
        const connection = await (0,_kube_auth_js__WEBPACK_IMPORTED_MODULE_4__/* .connect */ .Ng)({ context: run.context ?? undefined }, io.env, { cli: true });
        // No runner masks a terminal: the kubeconfig's credentials (and those its exec plugin hands
        // out later) are replaced by *** in everything printed from here on, as in the step log.
        // So are the values of params named like credentials (src/common/sensitive.ts).
        connection.secrets.push(...(0,_common_sensitive_js__WEBPACK_IMPORTED_MODULE_11__/* .sensitiveValues */ .DJ)(run.params));
        let redact = (0,_report_escape_js__WEBPACK_IMPORTED_MODULE_8__/* .makeRedactor */ .$u)(connection.secrets);
        connection.onNewSecret(() => (redact = (0,_report_escape_js__WEBPACK_IMPORTED_MODULE_8__/* .makeRedactor */ .$u)(connection.secrets)));
        io = { ...given, stdout: (text) => given.stdout(redact(text)), stderr: (text) => given.stderr(redact(text)) };
        const namespace = run.namespace ?? run.spec.namespace ?? connection.namespace ?? 'default';
        const client = (0,_kube_client_js__WEBPACK_IMPORTED_MODULE_5__/* .createClient */ .UU)(connection.kubeConfig, run.api);
        io.stderr(`cluster ${(0,_common_url_credentials_js__WEBPACK_IMPORTED_MODULE_12__/* .withoutUrlCredentials */ .e)(client.server)}, namespace ${namespace}\n`);
        const checked = await (0,_kube_auth_js__WEBPACK_IMPORTED_MODULE_4__/* .preflight */ .Mz)(client, namespace, 'run', { spec: run.spec });
        for (const w of checked.warnings)
            io.stderr(`warning: ${w}\n`);
        const context = (0,_io_js__WEBPACK_IMPORTED_MODULE_10__/* .localContext */ .N)(io.env);
        const proof = context.runId === null ? undefined : await runKey(io.env, namespace, run.spec.name, context.runId);
        const state = await (0,_engine_index_js__WEBPACK_IMPORTED_MODULE_3__/* .runDag */ .W)({
            spec: run.spec,
            params: run.params,
            mode: 'run',
            namespace,
            maxParallel: run.maxParallel,
            keepPods: run.keepPods,
            pods: (0,_kube_pod_api_js__WEBPACK_IMPORTED_MODULE_6__/* .kubePodApi */ .t)(client),
            context,
            proof,
            reporter: new _report_live_log_js__WEBPACK_IMPORTED_MODULE_9__/* .LiveLogReporter */ .U4({ write: (line) => io.stdout(`${line}\n`), secrets: connection.secrets }),
            signal: io.signal,
        });
        return state.result === 'success' ? _io_js__WEBPACK_IMPORTED_MODULE_10__/* .EXIT */ .d.ok : _io_js__WEBPACK_IMPORTED_MODULE_10__/* .EXIT */ .d.failed;
    }
    catch (err) {
        if (err instanceof _common_errors_js__WEBPACK_IMPORTED_MODULE_13__/* .UserError */ .y) {
            io.stderr(`pod-dag run: ${err.message}\n`);
            return _io_js__WEBPACK_IMPORTED_MODULE_10__/* .EXIT */ .d.usage;
        }
        throw err;
    }
}
/**
 * The key of a run re-attached by id: read from its file, or made and written there (0600) before
 * any pod is created. A file that is not a key is an error naming it.
 */
async function runKey(env, namespace, dag, runId) {
    const base = env['XDG_STATE_HOME'] || node_path__WEBPACK_IMPORTED_MODULE_2__.join(env['HOME'] || (0,node_os__WEBPACK_IMPORTED_MODULE_1__.homedir)(), '.local', 'state');
    const file = node_path__WEBPACK_IMPORTED_MODULE_2__.join(base, 'pod-dag-action', 'keys', `${`${namespace}_${dag}_${runId}`.replace(/[^A-Za-z0-9._-]+/g, '_')}.pem`);
    let pem = null;
    try {
        pem = await (0,node_fs_promises__WEBPACK_IMPORTED_MODULE_0__.readFile)(file, 'utf8');
    }
    catch (err) {
        if (err.code !== 'ENOENT')
            throw new _common_errors_js__WEBPACK_IMPORTED_MODULE_13__/* .UserError */ .y(`cannot read the run's key ${file}: ${err.message}`);
    }
    if (pem !== null) {
        try {
            return new _kube_pod_proof_js__WEBPACK_IMPORTED_MODULE_7__/* .PodProof */ .Ys(pem);
        }
        catch (err) {
            throw new _common_errors_js__WEBPACK_IMPORTED_MODULE_13__/* .UserError */ .y(`${file} does not hold the run's key (${err.message}); delete it, or use another POD_DAG_RUN_ID.`);
        }
    }
    const proof = new _kube_pod_proof_js__WEBPACK_IMPORTED_MODULE_7__/* .PodProof */ .Ys();
    await (0,node_fs_promises__WEBPACK_IMPORTED_MODULE_0__.mkdir)(node_path__WEBPACK_IMPORTED_MODULE_2__.dirname(file), { recursive: true, mode: 0o700 });
    await (0,node_fs_promises__WEBPACK_IMPORTED_MODULE_0__.writeFile)(file, proof.privateKeyPem(), { mode: 0o600 });
    return proof;
}


/***/ })

};
