// ts-jest wants AST transformers in this shape; it applies the same @nestjs/swagger CLI plugin
// that `nest build` runs (see nest-cli.json), so e2e tests see the shipped OpenAPI document.
const plugin = require('@nestjs/swagger/plugin');

module.exports.name = 'nestjs-swagger-transformer';
module.exports.version = 1;
module.exports.factory = (compiler) =>
  plugin.before({ introspectComments: true, classValidatorShim: true }, compiler.program);
