# Copyright: (c) 2026, matbakh platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Mirrors AWS_ARGSPEC in plugins/module_utils/_aws.py (amazon.aws's names, aliases and fallbacks).
    DOCUMENTATION = r"""
options:
  endpoint_url:
    description:
      - AWS endpoint URL, for a local or private endpoint (the sandbox points this at moto).
      - If not set, E(AWS_ENDPOINT_URL) or E(AWS_URL) is used, else AWS's public endpoint.
      - The name and aliases are amazon.aws's.
    type: str
    aliases: [aws_endpoint_url]
  region:
    description: AWS region. If not set, E(AWS_REGION) or E(AWS_DEFAULT_REGION) is used.
    type: str
    aliases: [aws_region]
  access_key:
    description:
      - AWS access key id. If not set, E(AWS_ACCESS_KEY_ID), E(AWS_ACCESS_KEY) or the usual boto3 credential chain is
        used. Never logged.
    type: str
    aliases: [aws_access_key_id, aws_access_key]
  secret_key:
    description:
      - AWS secret access key. If not set, E(AWS_SECRET_ACCESS_KEY), E(AWS_SECRET_KEY) or the boto3 credential chain.
        Never logged.
    type: str
    aliases: [aws_secret_access_key, aws_secret_key]
  session_token:
    description: AWS session token for temporary credentials (E(AWS_SESSION_TOKEN)). Never logged.
    type: str
    aliases: [aws_session_token]
  profile:
    description: Named profile from the AWS config files (E(AWS_PROFILE), E(AWS_DEFAULT_PROFILE)).
    type: str
    aliases: [aws_profile]
  aws_max_attempts:
    description:
      - Attempts per AWS call, retried by botocore's standard retry mode (jittered backoff on throttling and 5xx).
    type: int
    default: 5
requirements:
  - boto3 >= 1.36
"""
