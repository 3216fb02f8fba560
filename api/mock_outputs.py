"""Realistic computed outputs for resources under `pulumi.runtime` mocks.

Under mocks, every output a provider would compute (ARNs, endpoints, DNS
names, generated passwords) is None unless the mock returns it, and code
reading it fails silently (`"deadLetterTargetArn": null`). This table gives
each type the outputs a real provider fills, derived from the resource's
name and inputs so they are deterministic and distinct.
"""

from __future__ import annotations

import hashlib
from typing import Any, Callable

ACCOUNT = "123456789012"
REGION = "us-east-1"


def _short(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()[:8]


def _region(inputs: dict) -> str:
    return inputs.get("region") or REGION


def _arn(service: str, resource: str) -> Callable[[str, dict], str]:
    def make(name: str, inputs: dict) -> str:
        return f"arn:aws:{service}:{_region(inputs)}:{ACCOUNT}:{resource.format(name=name, short=_short(name))}"
    return make


# type token → output name → function(name, inputs) → value
COMPUTED: dict[str, dict[str, Callable[[str, dict], Any]]] = {
    "aws:lb/loadBalancer:LoadBalancer": {
        "arn": _arn("elasticloadbalancing", "loadbalancer/app/{name}/{short}"),
        "arn_suffix": lambda n, i: f"app/{n}/{_short(n)}",
        "dns_name": lambda n, i: f"{n}-{_short(n)}.{_region(i)}.elb.amazonaws.com",
        "zone_id": lambda n, i: "Z35SXDOTRQ7X7K",
    },
    "aws:lb/targetGroup:TargetGroup": {
        "arn": _arn("elasticloadbalancing", "targetgroup/{name}/{short}"),
        "arn_suffix": lambda n, i: f"targetgroup/{n}/{_short(n)}",
    },
    "aws:rds/instance:Instance": {
        "arn": _arn("rds", "db:{name}"),
        "identifier": lambda n, i: i.get("identifier") or f"{n}-{_short(n)}",
        "address": lambda n, i: f"{n}.{_short(n)}.{_region(i)}.rds.amazonaws.com",
        "endpoint": lambda n, i: f"{n}.{_short(n)}.{_region(i)}.rds.amazonaws.com:5432",
        "port": lambda n, i: i.get("port") or 5432,
        "master_user_secrets": lambda n, i: [{"secretArn": f"arn:aws:secretsmanager:{_region(i)}:{ACCOUNT}:secret:rds!{n}"}],
    },
    "aws:elasticache/replicationGroup:ReplicationGroup": {
        "arn": _arn("elasticache", "replicationgroup:{name}"),
        "primary_endpoint_address": lambda n, i: f"master.{n}.{_short(n)}.cache.amazonaws.com",
        "reader_endpoint_address": lambda n, i: f"replica.{n}.{_short(n)}.cache.amazonaws.com",
        "configuration_endpoint_address": lambda n, i: f"config.{n}.{_short(n)}.cache.amazonaws.com",
        "replication_group_id": lambda n, i: i.get("replicationGroupId") or f"{n}-{_short(n)}",
        "member_clusters": lambda n, i: [f"{n}-{k:03d}" for k in range(1, int(i.get("numCacheClusters") or 1) + 1)],
    },
    "aws:elasticache/cluster:Cluster": {
        "arn": _arn("elasticache", "cluster:{name}"),
        "configuration_endpoint": lambda n, i: f"{n}.{_short(n)}.cfg.cache.amazonaws.com:11211",
        "cluster_address": lambda n, i: f"{n}.{_short(n)}.cfg.cache.amazonaws.com",
        "cluster_id": lambda n, i: i.get("clusterId") or f"{n}-{_short(n)}",
    },
    "aws:sqs/queue:Queue": {
        "arn": lambda n, i: f"arn:aws:sqs:{_region(i)}:{ACCOUNT}:{i.get('name') or n}",
        "url": lambda n, i: f"https://sqs.{_region(i)}.amazonaws.com/{ACCOUNT}/{i.get('name') or n}",
    },
    "aws:cloudfront/distribution:Distribution": {
        "arn": lambda n, i: f"arn:aws:cloudfront::{ACCOUNT}:distribution/E{_short(n).upper()}",
        "domain_name": lambda n, i: f"d{_short(n)}.cloudfront.net",
        "hosted_zone_id": lambda n, i: "Z2FDTNDATAQYW2",
    },
    "aws:route53/zone:Zone": {
        "zone_id": lambda n, i: f"Z{_short(n).upper()}",
        "name_servers": lambda n, i: [f"ns-1.awsdns-{_short(n)}.org"],
    },
    "aws:acm/certificate:Certificate": {
        "arn": _arn("acm", "certificate/{short}"),
        # One option per name (domain, then SANs); `*.zone` shares the zone's record, as in ACM.
        "domain_validation_options": lambda n, i: [
            {"domainName": name, "resourceRecordName": f"_{_short(n + name.lstrip('*.'))}.{name.lstrip('*.')}.",
             "resourceRecordType": "CNAME", "resourceRecordValue": f"_{_short(n + name.lstrip('*.'))}.acm-validations.aws."}
            for name in [i.get("domainName", "example.com"), *(i.get("subjectAlternativeNames") or [])]],
    },
    "aws:acm/certificateValidation:CertificateValidation": {
        "certificate_arn": lambda n, i: i.get("certificateArn"),
    },
    "aws:route53/record:Record": {"fqdn": lambda n, i: str(i.get("name") or n).rstrip(".")},
    "aws:route53/healthCheck:HealthCheck": {"arn": lambda n, i: f"arn:aws:route53:::healthcheck/{_short(n)}"},
    "aws:lb/listener:Listener": {"arn": _arn("elasticloadbalancing", "listener/app/{name}/{short}")},
    "aws:ec2/securityGroup:SecurityGroup": {"arn": _arn("ec2", "security-group/sg-{short}")},
    "aws:ec2/vpc:Vpc": {"arn": _arn("ec2", "vpc/vpc-{short}"), "default_security_group_id": lambda n, i: f"sg-{_short(n)}",
                        "owner_id": lambda n, i: ACCOUNT},
    "aws:ec2/subnet:Subnet": {"arn": _arn("ec2", "subnet/subnet-{short}")},
    "aws:ec2/natGateway:NatGateway": {"public_ip": lambda n, i: f"203.0.113.{int(_short(n), 16) % 250 + 1}"},
    "aws:ec2/eip:Eip": {"public_ip": lambda n, i: f"203.0.113.{int(_short(n), 16) % 250 + 1}",
                        "allocation_id": lambda n, i: f"eipalloc-{_short(n)}"},
    "aws:s3/bucketObjectv2:BucketObjectv2": {"etag": lambda n, i: i.get("sourceHash") or _short(n)},
    "aws:s3/bucket:Bucket": {
        "bucket": lambda n, i: i.get("bucket") or f"{n}-{_short(n)}",
        "arn": lambda n, i: f"arn:aws:s3:::{i.get('bucket') or n + '-' + _short(n)}",
        "bucket_regional_domain_name": lambda n, i: f"{i.get('bucket') or n + '-' + _short(n)}.s3.{_region(i)}.amazonaws.com",
    },
    "aws:ecs/cluster:Cluster": {"arn": _arn("ecs", "cluster/{name}")},
    "aws:ecs/service:Service": {"arn": _arn("ecs", "service/{name}")},
    "aws:ecs/taskDefinition:TaskDefinition": {"arn": _arn("ecs", "task-definition/{name}:1")},
    "aws:iam/role:Role": {"arn": lambda n, i: f"arn:aws:iam::{ACCOUNT}:role/{n}"},
    "aws:cloudwatch/logGroup:LogGroup": {"arn": _arn("logs", "log-group:{name}")},
    "aws:servicediscovery/privateDnsNamespace:PrivateDnsNamespace": {
        "arn": _arn("servicediscovery", "namespace/ns-{short}"),
        "hosted_zone": lambda n, i: f"Z{_short(n).upper()}",
    },
    "aws:servicediscovery/service:Service": {"arn": _arn("servicediscovery", "service/srv-{short}")},
    "aws:backup/vault:Vault": {"arn": _arn("backup", "backup-vault:{name}")},
    "aws:backup/plan:Plan": {"arn": _arn("backup", "backup-plan:{short}")},
    "aws:wafv2/webAcl:WebAcl": {"arn": _arn("wafv2", "regional/webacl/{name}/{short}")},
    "aws:wafv2/ipSet:IpSet": {"arn": _arn("wafv2", "regional/ipset/{name}/{short}")},
    "aws:kms/key:Key": {"arn": _arn("kms", "key/{short}"), "key_id": lambda n, i: _short(n)},
    "aws:secretsmanager/secret:Secret": {"arn": _arn("secretsmanager", "secret:{name}")},
    "aws:dsql/cluster:Cluster": {
        "arn": _arn("dsql", "cluster/{short}"),
        "identifier": lambda n, i: f"{_short(n)}dsql",
        "vpc_endpoint_service_name": lambda n, i: f"com.amazonaws.{_region(i)}.dsql-{_short(n)}",
    },
    "aws:cloudwatch/metricAlarm:MetricAlarm": {"arn": _arn("cloudwatch", "alarm:{name}")},
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": {"arn": _arn("cloudwatch", "alarm:{name}")},
    "aws:cloudfront/originAccessControl:OriginAccessControl": {"etag": lambda n, i: _short(n)},
    "aws:cloudfront/cachePolicy:CachePolicy": {"etag": lambda n, i: _short(n)},
    "aws:sns/topic:Topic": {"arn": _arn("sns", "{name}")},
    "aws:apigatewayv2/api:Api": {
        "api_endpoint": lambda n, i: f"https://{_short(n)}.execute-api.{_region(i)}.amazonaws.com",
        "execution_arn": lambda n, i: f"arn:aws:execute-api:{_region(i)}:{ACCOUNT}:{_short(n)}",
    },
    "aws:apigatewayv2/stage:Stage": {
        "invoke_url": lambda n, i: f"https://{_short(n)}.execute-api.{_region(i)}.amazonaws.com/",
    },
    "aws:dynamodb/table:Table": {
        "arn": lambda n, i: f"arn:aws:dynamodb:{_region(i)}:{ACCOUNT}:table/{i.get('name') or n}",
        "stream_arn": lambda n, i: (f"arn:aws:dynamodb:{_region(i)}:{ACCOUNT}:table/{i.get('name') or n}"
                                    "/stream/2026-01-01T00:00:00.000" if i.get("streamEnabled") else None),
    },
    "aws:docdb/cluster:Cluster": {
        "arn": _arn("rds", "cluster:{name}"),
        "cluster_identifier": lambda n, i: i.get("clusterIdentifier") or f"{n}-{_short(n)}",
        "endpoint": lambda n, i: f"{n}.cluster-{_short(n)}.{_region(i)}.docdb.amazonaws.com",
        "reader_endpoint": lambda n, i: f"{n}.cluster-ro-{_short(n)}.{_region(i)}.docdb.amazonaws.com",
        "master_user_secrets": lambda n, i: [{"secretArn": f"arn:aws:secretsmanager:{_region(i)}:{ACCOUNT}:secret:docdb!{n}"}],
    },
    "aws:neptune/cluster:Cluster": {
        "arn": _arn("rds", "cluster:{name}"),
        "cluster_identifier": lambda n, i: i.get("clusterIdentifier") or f"{n}-{_short(n)}",
        "cluster_resource_id": lambda n, i: f"cluster-{_short(n).upper()}",
        "endpoint": lambda n, i: f"{n}.cluster-{_short(n)}.{_region(i)}.neptune.amazonaws.com",
        "reader_endpoint": lambda n, i: f"{n}.cluster-ro-{_short(n)}.{_region(i)}.neptune.amazonaws.com",
    },
    "aws:keyspaces/table:Table": {
        "arn": lambda n, i: f"arn:aws:cassandra:{_region(i)}:{ACCOUNT}:/keyspace/{i.get('keyspaceName')}/table/{i.get('tableName')}",
    },
    "aws:memorydb/cluster:Cluster": {
        "arn": _arn("memorydb", "cluster/{name}"),
        "name": lambda n, i: i.get("name") or f"{n}-{_short(n)}",
        "cluster_endpoints": lambda n, i: [{"address": f"clustercfg.{n}.{_short(n)}.memorydb.{_region(i)}.amazonaws.com",
                                            "port": i.get("port") or 6379}],
    },
    "aws:memorydb/acl:Acl": {"name": lambda n, i: i.get("name") or f"{n}-{_short(n)}"},
    "aws:memorydb/subnetGroup:SubnetGroup": {"name": lambda n, i: i.get("name") or f"{n}-{_short(n)}"},
    "aws:memorydb/multiRegionCluster:MultiRegionCluster": {
        "multi_region_cluster_name": lambda n, i: f"virxk-{i.get('multiRegionClusterNameSuffix') or n}",
    },
    "random:index/randomPassword:RandomPassword": {
        "result": lambda n, i: "mock-" + hashlib.sha256(n.encode()).hexdigest()[: int(i.get("length") or 24) - 5],
        "bcrypt_hash": lambda n, i: "$2a$10$" + hashlib.sha256(n.encode()).hexdigest()[:53],
    },
    "random:index/randomId:RandomId": {"hex": lambda n, i: _short(n), "b64_url": lambda n, i: _short(n)},
    "tls:index/privateKey:PrivateKey": {
        "private_key_pem": lambda n, i: "-----BEGIN PRIVATE KEY-----\nMOCK\n-----END PRIVATE KEY-----\n",
        "public_key_pem": lambda n, i: "-----BEGIN PUBLIC KEY-----\nMOCK\n-----END PUBLIC KEY-----\n",
    },
    "tls:index/selfSignedCert:SelfSignedCert": {
        "cert_pem": lambda n, i: "-----BEGIN CERTIFICATE-----\nMOCK\n-----END CERTIFICATE-----\n",
    },
    "docker:index/remoteImage:RemoteImage": {
        "image_id": lambda n, i: f"sha256:{hashlib.sha256(str(i.get('name')).encode()).hexdigest()}",
        "repo_digest": lambda n, i: f"{i.get('name')}@sha256:{hashlib.sha256(str(i.get('name')).encode()).hexdigest()}",
    },
    "docker:index/network:Network": {"name": lambda n, i: i.get("name") or n},
    "docker:index/volume:Volume": {"name": lambda n, i: i.get("name") or n, "mountpoint": lambda n, i: f"/var/lib/docker/volumes/{i.get('name') or n}/_data"},
    "docker:index/container:Container": {
        "name": lambda n, i: i.get("name") or n,
        "hostname": lambda n, i: i.get("hostname") or _short(n),
    },
}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def computed_outputs(type_token: str, name: str, inputs: dict) -> dict[str, Any]:
    """Inputs echoed back, plus the outputs a real provider would compute (camelCase keys)."""
    state = dict(inputs)
    for key, make in COMPUTED.get(type_token, {}).items():
        camel = _camel(key)
        if state.get(camel) is None:
            state[camel] = make(name, inputs)
    # The generic ARN only where the table has no specific one (CloudFront's is global, S3's has no region).
    if type_token.startswith("aws:") and "arn" not in state:
        service = type_token.split(":")[1].split("/")[0]
        state["arn"] = f"arn:aws:{service}:{_region(inputs)}:{ACCOUNT}:{name}"
    if "name" not in state and type_token.startswith("aws:"):
        state["name"] = f"{name}-{_short(name)}"
    return state


def resource_id(type_token: str, name: str, inputs: dict) -> str:
    if type_token == "aws:route53/zone:Zone":
        return f"Z{_short(name).upper()}"
    return f"{name}-{_short(type_token + name)}-id"


def invoke(token: str, args: dict) -> dict[str, Any]:
    """Results of data-source calls (camelCase keys, as the engine returns them)."""
    region = args.get("region") or REGION
    if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
        return {"names": [f"{region}{z}" for z in "abcdef"], "zoneIds": [f"use1-az{n}" for n in range(1, 7)],
                "id": region}
    if token == "aws:index/getCallerIdentity:getCallerIdentity":
        return {"accountId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/mock", "userId": "MOCK", "id": ACCOUNT}
    if token in ("aws:index/getRegion:getRegion", "aws:index/getRegion:getRegion"):
        return {"name": region, "region": region, "id": region}
    if token == "aws:cloudfront/getCachePolicy:getCachePolicy":
        return {"id": f"cp-{_short(str(args.get('name')))}", "name": args.get("name")}
    if token == "aws:ec2/getManagedPrefixList:getManagedPrefixList":
        return {"id": f"pl-{_short(str(args.get('name')) + region)[:8]}", "name": args.get("name")}
    if token == "aws:ec2/getAmi:getAmi":
        return {"id": "ami-0123456789abcdef0"}
    return {}
