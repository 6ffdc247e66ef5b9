#!/usr/bin/env node
var __webpack_exports__ = {};
/** Entry point placeholder: wired in a later step. */


