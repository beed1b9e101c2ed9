/**
 * protobufjs JSON descriptor of the subset of gnostic's `openapi.v2` messages (github.com/google/gnostic,
 * openapiv2/OpenAPIv2.proto, proto3) that k8ts encodes for `/openapi/v2` in protobuf. Field names and numbers
 * follow that file; messages and fields k8ts never sets are left out, which does not change the wire format.
 * `Any` keeps only field 2 (`yaml`): gnostic carries vendor extensions, defaults and enums as YAML text there.
 */
import type { INamespace } from 'protobufjs';

/** Descriptor rooted at package `openapi.v2`; load with `protobuf.Root.fromJSON`. */
export const openapiV2Descriptor: INamespace = {
  nested: {
    openapi: {
      nested: {
        v2: {
          nested: {
            Document: {
              fields: {
                swagger: { type: 'string', id: 1 },
                info: { type: 'Info', id: 2 },
                host: { type: 'string', id: 3 },
                base_path: { type: 'string', id: 4 },
                schemes: { type: 'string', id: 5, rule: 'repeated' },
                consumes: { type: 'string', id: 6, rule: 'repeated' },
                produces: { type: 'string', id: 7, rule: 'repeated' },
                paths: { type: 'Paths', id: 8 },
                definitions: { type: 'Definitions', id: 9 },
                vendor_extension: { type: 'NamedAny', id: 16, rule: 'repeated' },
              },
            },
            Info: {
              fields: {
                title: { type: 'string', id: 1 },
                version: { type: 'string', id: 2 },
                description: { type: 'string', id: 3 },
                vendor_extension: { type: 'NamedAny', id: 7, rule: 'repeated' },
              },
            },
            Paths: {
              fields: {
                vendor_extension: { type: 'NamedAny', id: 1, rule: 'repeated' },
                path: { type: 'NamedPathItem', id: 2, rule: 'repeated' },
              },
            },
            NamedPathItem: {
              fields: {
                name: { type: 'string', id: 1 },
                value: { type: 'PathItem', id: 2 },
              },
            },
            PathItem: {
              fields: {
                _ref: { type: 'string', id: 1 },
                get: { type: 'Operation', id: 2 },
                put: { type: 'Operation', id: 3 },
                post: { type: 'Operation', id: 4 },
                delete: { type: 'Operation', id: 5 },
                options: { type: 'Operation', id: 6 },
                head: { type: 'Operation', id: 7 },
                patch: { type: 'Operation', id: 8 },
                parameters: { type: 'ParametersItem', id: 9, rule: 'repeated' },
                vendor_extension: { type: 'NamedAny', id: 10, rule: 'repeated' },
              },
            },
            Operation: {
              fields: {
                tags: { type: 'string', id: 1, rule: 'repeated' },
                summary: { type: 'string', id: 2 },
                description: { type: 'string', id: 3 },
                operation_id: { type: 'string', id: 5 },
                produces: { type: 'string', id: 6, rule: 'repeated' },
                consumes: { type: 'string', id: 7, rule: 'repeated' },
                parameters: { type: 'ParametersItem', id: 8, rule: 'repeated' },
                responses: { type: 'Responses', id: 9 },
                schemes: { type: 'string', id: 10, rule: 'repeated' },
                deprecated: { type: 'bool', id: 11 },
                vendor_extension: { type: 'NamedAny', id: 13, rule: 'repeated' },
              },
            },
            ParametersItem: {
              oneofs: { oneof: { oneof: ['parameter', 'json_reference'] } },
              fields: {
                parameter: { type: 'Parameter', id: 1 },
                json_reference: { type: 'JsonReference', id: 2 },
              },
            },
            Parameter: {
              oneofs: { oneof: { oneof: ['body_parameter', 'non_body_parameter'] } },
              fields: {
                body_parameter: { type: 'BodyParameter', id: 1 },
                non_body_parameter: { type: 'NonBodyParameter', id: 2 },
              },
            },
            BodyParameter: {
              fields: {
                description: { type: 'string', id: 1 },
                name: { type: 'string', id: 2 },
                in: { type: 'string', id: 3 },
                required: { type: 'bool', id: 4 },
                schema: { type: 'Schema', id: 5 },
                vendor_extension: { type: 'NamedAny', id: 6, rule: 'repeated' },
              },
            },
            NonBodyParameter: {
              oneofs: { oneof: { oneof: ['query_parameter_sub_schema', 'path_parameter_sub_schema'] } },
              fields: {
                query_parameter_sub_schema: { type: 'QueryParameterSubSchema', id: 3 },
                path_parameter_sub_schema: { type: 'PathParameterSubSchema', id: 4 },
              },
            },
            QueryParameterSubSchema: {
              fields: {
                required: { type: 'bool', id: 1 },
                in: { type: 'string', id: 2 },
                description: { type: 'string', id: 3 },
                name: { type: 'string', id: 4 },
                allow_empty_value: { type: 'bool', id: 5 },
                type: { type: 'string', id: 6 },
                format: { type: 'string', id: 7 },
                collection_format: { type: 'string', id: 9 },
                unique_items: { type: 'bool', id: 20 },
                vendor_extension: { type: 'NamedAny', id: 23, rule: 'repeated' },
              },
            },
            PathParameterSubSchema: {
              fields: {
                required: { type: 'bool', id: 1 },
                in: { type: 'string', id: 2 },
                description: { type: 'string', id: 3 },
                name: { type: 'string', id: 4 },
                type: { type: 'string', id: 5 },
                format: { type: 'string', id: 6 },
                collection_format: { type: 'string', id: 8 },
                unique_items: { type: 'bool', id: 19 },
                vendor_extension: { type: 'NamedAny', id: 22, rule: 'repeated' },
              },
            },
            JsonReference: {
              fields: {
                _ref: { type: 'string', id: 1 },
                description: { type: 'string', id: 2 },
              },
            },
            Responses: {
              fields: {
                response_code: { type: 'NamedResponseValue', id: 1, rule: 'repeated' },
                vendor_extension: { type: 'NamedAny', id: 2, rule: 'repeated' },
              },
            },
            NamedResponseValue: {
              fields: {
                name: { type: 'string', id: 1 },
                value: { type: 'ResponseValue', id: 2 },
              },
            },
            ResponseValue: {
              oneofs: { oneof: { oneof: ['response', 'json_reference'] } },
              fields: {
                response: { type: 'Response', id: 1 },
                json_reference: { type: 'JsonReference', id: 2 },
              },
            },
            Response: {
              fields: {
                description: { type: 'string', id: 1 },
                schema: { type: 'SchemaItem', id: 2 },
                vendor_extension: { type: 'NamedAny', id: 5, rule: 'repeated' },
              },
            },
            SchemaItem: {
              oneofs: { oneof: { oneof: ['schema'] } },
              fields: {
                schema: { type: 'Schema', id: 1 },
              },
            },
            Schema: {
              fields: {
                _ref: { type: 'string', id: 1 },
                format: { type: 'string', id: 2 },
                title: { type: 'string', id: 3 },
                description: { type: 'string', id: 4 },
                default: { type: 'Any', id: 5 },
                multiple_of: { type: 'double', id: 6 },
                maximum: { type: 'double', id: 7 },
                exclusive_maximum: { type: 'bool', id: 8 },
                minimum: { type: 'double', id: 9 },
                exclusive_minimum: { type: 'bool', id: 10 },
                max_length: { type: 'int64', id: 11 },
                min_length: { type: 'int64', id: 12 },
                pattern: { type: 'string', id: 13 },
                max_items: { type: 'int64', id: 14 },
                min_items: { type: 'int64', id: 15 },
                unique_items: { type: 'bool', id: 16 },
                max_properties: { type: 'int64', id: 17 },
                min_properties: { type: 'int64', id: 18 },
                required: { type: 'string', id: 19, rule: 'repeated' },
                enum: { type: 'Any', id: 20, rule: 'repeated' },
                additional_properties: { type: 'AdditionalPropertiesItem', id: 21 },
                type: { type: 'TypeItem', id: 22 },
                items: { type: 'ItemsItem', id: 23 },
                all_of: { type: 'Schema', id: 24, rule: 'repeated' },
                properties: { type: 'Properties', id: 25 },
                discriminator: { type: 'string', id: 26 },
                read_only: { type: 'bool', id: 27 },
                example: { type: 'Any', id: 30 },
                vendor_extension: { type: 'NamedAny', id: 31, rule: 'repeated' },
              },
            },
            AdditionalPropertiesItem: {
              oneofs: { oneof: { oneof: ['schema', 'boolean'] } },
              fields: {
                schema: { type: 'Schema', id: 1 },
                boolean: { type: 'bool', id: 2 },
              },
            },
            TypeItem: {
              fields: {
                value: { type: 'string', id: 1, rule: 'repeated' },
              },
            },
            ItemsItem: {
              fields: {
                schema: { type: 'Schema', id: 1, rule: 'repeated' },
              },
            },
            Properties: {
              fields: {
                additional_properties: { type: 'NamedSchema', id: 1, rule: 'repeated' },
              },
            },
            Definitions: {
              fields: {
                additional_properties: { type: 'NamedSchema', id: 1, rule: 'repeated' },
              },
            },
            NamedSchema: {
              fields: {
                name: { type: 'string', id: 1 },
                value: { type: 'Schema', id: 2 },
              },
            },
            NamedAny: {
              fields: {
                name: { type: 'string', id: 1 },
                value: { type: 'Any', id: 2 },
              },
            },
            Any: {
              fields: {
                yaml: { type: 'string', id: 2 },
              },
            },
          },
        },
      },
    },
  },
};
