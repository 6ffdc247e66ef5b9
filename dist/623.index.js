export const id = 623;
export const ids = [623];
export const modules = {

/***/ 623:
/***/ ((__unused_webpack___webpack_module__, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   runLocal: () => (/* binding */ runLocal)
/* harmony export */ });
/* harmony import */ var _common_errors_js__WEBPACK_IMPORTED_MODULE_6__ = __webpack_require__(3302);
/* harmony import */ var _engine_index_js__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(5291);
/* harmony import */ var _kube_auth_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(843);
/* harmony import */ var _kube_client_js__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(6254);
/* harmony import */ var _kube_pod_api_js__WEBPACK_IMPORTED_MODULE_3__ = __webpack_require__(2403);
/* harmony import */ var _report_live_log_js__WEBPACK_IMPORTED_MODULE_4__ = __webpack_require__(1781);
/* harmony import */ var _io_js__WEBPACK_IMPORTED_MODULE_5__ = __webpack_require__(8908);
/**
 * `pod-dag run`: the action's engine against the current kubeconfig, with the same live log.
 * There is no GitHub run here: the run id is local (`local-<time>`, or POD_DAG_RUN_ID to re-attach
 * to an interrupted run), and the result is printed instead of a job summary.
 */







/** Runs the DAG; resolves to the exit code (0 success, 1 failed or cancelled, 2 cannot start). */
async function runLocal(run, io) {
    try {
        const connection = await (0,_kube_auth_js__WEBPACK_IMPORTED_MODULE_1__/* .connect */ .Ng)({ context: run.context ?? undefined }, io.env);
        const namespace = run.namespace ?? run.spec.namespace ?? connection.namespace ?? 'default';
        const client = (0,_kube_client_js__WEBPACK_IMPORTED_MODULE_2__/* .createClient */ .UU)(connection.kubeConfig);
        io.stderr(`cluster ${client.server}, namespace ${namespace}\n`);
        const checked = await (0,_kube_auth_js__WEBPACK_IMPORTED_MODULE_1__/* .preflight */ .Mz)(client, namespace, 'run');
        for (const w of checked.warnings)
            io.stderr(`warning: ${w}\n`);
        const state = await (0,_engine_index_js__WEBPACK_IMPORTED_MODULE_0__/* .runDag */ .W)({
            spec: run.spec,
            params: run.params,
            mode: 'run',
            namespace,
            maxParallel: run.maxParallel,
            keepPods: run.keepPods,
            pods: (0,_kube_pod_api_js__WEBPACK_IMPORTED_MODULE_3__/* .kubePodApi */ .t)(client),
            context: (0,_io_js__WEBPACK_IMPORTED_MODULE_5__/* .localContext */ .N)(io.env),
            reporter: new _report_live_log_js__WEBPACK_IMPORTED_MODULE_4__/* .LiveLogReporter */ .U4({ write: (line) => io.stdout(`${line}\n`) }),
            signal: io.signal,
        });
        return state.result === 'success' ? _io_js__WEBPACK_IMPORTED_MODULE_5__/* .EXIT */ .d.ok : _io_js__WEBPACK_IMPORTED_MODULE_5__/* .EXIT */ .d.failed;
    }
    catch (err) {
        if (err instanceof _common_errors_js__WEBPACK_IMPORTED_MODULE_6__/* .UserError */ .y) {
            io.stderr(`pod-dag run: ${err.message}\n`);
            return _io_js__WEBPACK_IMPORTED_MODULE_5__/* .EXIT */ .d.usage;
        }
        throw err;
    }
}


/***/ })

};
