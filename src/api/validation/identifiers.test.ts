import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  isCIdentifier,
  isConfigMapKey,
  isDNS1035Label,
  isDNS1123Label,
  isDNS1123Subdomain,
  isEnvVarName,
  isLabelKey,
  isLabelValue,
  isPathSegmentName,
  isValidPortName,
  isValidPortNum,
} from './identifiers.js';

const subdomainMsg =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const labelMsg =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const dns1035Msg =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const keyNameMsg =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

describe('string format validators', () => {
  const cases: Array<{ name: string; got: () => string[]; want: string[] }> = [
    { name: 'a valid subdomain has no problems', got: () => isDNS1123Subdomain('web.example.com'), want: [] },
    { name: 'an underscore breaks a subdomain with the upstream message', got: () => isDNS1123Subdomain('Foo_1'), want: [subdomainMsg] },
    { name: 'a 254-character subdomain is too long', got: () => isDNS1123Subdomain('a'.repeat(254)), want: ['must be no more than 253 characters'] },
    { name: 'a label with dots says so instead of the regex', got: () => isDNS1123Label('a.b'), want: ['must not contain dots'] },
    { name: 'an uppercase label gets the label regex message', got: () => isDNS1123Label('Web'), want: [labelMsg] },
    { name: 'a DNS-1035 label may not start with a digit', got: () => isDNS1035Label('1web'), want: [dns1035Msg] },
    { name: 'a path segment may not be ..', got: () => isPathSegmentName('..'), want: ["may not be '..'"] },
    { name: 'a path segment may not contain / or %', got: () => isPathSegmentName('a/b%'), want: ["may not contain '/'", "may not contain '%'"] },
    { name: 'a prefixed label key is valid', got: () => isLabelKey('app.kubernetes.io/name'), want: [] },
    { name: 'a label key with a colon fails in the name part', got: () => isLabelKey('app:monolith'), want: [keyNameMsg] },
    { name: 'an empty label key prefix is reported', got: () => isLabelKey('/name'), want: ['prefix part must be non-empty'] },
    {
      name: 'a label key with two slashes gets the whole-key message',
      got: () => isLabelKey('a/b/c'),
      want: [
        "a valid label key must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
      ],
    },
    { name: 'an empty label value is valid', got: () => isLabelValue(''), want: [] },
    {
      name: 'a label value with a space is invalid',
      got: () => isLabelValue('a b'),
      want: [
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
      ],
    },
    { name: 'relaxed env var names allow dashes and leading digits', got: () => isEnvVarName('1-FOO.bar'), want: [] },
    { name: 'env var names may not contain =', got: () => isEnvVarName('A=B'), want: ["a valid environment variable name must consist only of printable ASCII characters other than '='"] },
    {
      name: 'a C identifier may not start with a digit',
      got: () => isCIdentifier('1a'),
      want: ["a valid C identifier must start with alphabetic character or '_', followed by a string of alphanumeric characters or '_' (e.g. 'my_name',  or 'MY_NAME',  or 'MyName', regex used for validation is '[A-Za-z_][A-Za-z0-9_]*')"],
    },
    { name: 'config keys may not be ..', got: () => isConfigMapKey('..'), want: ["must not be '..'"] },
    { name: 'port 0 is out of range', got: () => isValidPortNum(0), want: ['must be between 1 and 65535, inclusive'] },
    { name: 'port names need a letter and no double hyphen', got: () => isValidPortName('1--2'), want: ['must contain at least one letter (a-z)', 'must not contain consecutive hyphens'] },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(c.got(), c.want));
});
