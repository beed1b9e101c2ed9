import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Quantity, parseQuantity, quantityFormatError, QuantityParseError } from './quantity.js';

describe('parseQuantity and canonical printing', () => {
  const cases: Array<{ in: string; want: string }> = [
    { in: '1', want: '1' },
    { in: '1000m', want: '1' },
    { in: '1500m', want: '1500m' },
    { in: '1.5', want: '1500m' },
    { in: '0.1', want: '100m' },
    { in: '100Mi', want: '100Mi' },
    { in: '1.5Gi', want: '1536Mi' },
    { in: '1024Ki', want: '1Mi' },
    { in: '1000Ki', want: '1000Ki' },
    { in: '0.5Ki', want: '512' },
    { in: '1k', want: '1k' },
    { in: '1000', want: '1k' },
    { in: '12e6', want: '12e6' },
    { in: '1e3', want: '1e3' },
    { in: '500u', want: '500u' },
    { in: '0.0001n', want: '1n' },
    { in: '-2', want: '-2' },
    { in: '0', want: '0' },
    { in: '+7', want: '7' },
  ];
  for (const c of cases) it(`${c.in} prints as ${c.want}`, () => assert.equal(parseQuantity(c.in).toString(), c.want));

  it('a word is refused with the upstream regular-expression message', () => {
    assert.throws(() => parseQuantity('lots'), (e: unknown) => e instanceof QuantityParseError && e.message === quantityFormatError);
  });
  it('an unknown suffix is refused', () => assert.throws(() => parseQuantity('5kk'), /unable to parse quantity's suffix/));
});

describe('quantity arithmetic', () => {
  it('1Gi is more than 1G', () => assert.equal(parseQuantity('1Gi').cmp(parseQuantity('1G')), 1));
  it('100m plus 900m is 1', () => assert.equal(parseQuantity('100m').add(parseQuantity('900m')).toString(), '1'));
  it('milliValue rounds up', () => assert.equal(parseQuantity('1.0001m').milliValue(), 2));
  it('value of 1500m rounds up to 2', () => assert.equal(parseQuantity('1500m').value(), 2));
  it('fromMilli builds a decimal quantity', () => assert.equal(Quantity.fromMilli(250).toString(), '250m'));
  it('fromValue with BinarySI prints binary suffixes', () => assert.equal(Quantity.fromValue(1073741824, 'BinarySI').toString(), '1Gi'));
  it('subtraction can go negative', () => assert.equal(parseQuantity('1').sub(parseQuantity('2')).toString(), '-1'));
});
