// window.LanguageModel = window.bodhi.LanguageModel, on pages whose browser has no Prompt API of
// its own. Injected (MAIN world, document_start) only while the user has turned the setting on
// in the options page: background/language_model.js registers it then, and removes it when off.
// A getter, because this script may run before inpage/bodhi.js has made window.bodhi.
(() => {
  'use strict';
  if ('LanguageModel' in window) return;
  Object.defineProperty(window, 'LanguageModel', {
    get: () => window.bodhi?.LanguageModel,
    configurable: true, enumerable: false,
  });
})();
