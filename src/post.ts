/** Entry point placeholder: wired in a later step. */
export {};
